package scsi

import "github.com/halun/halun/internal/identity"

// INQUIRY (SPC-4 6.6): standard data and dispatch to the VPD pages.

// Version descriptors (SPC-4 table 144) claimed in standard INQUIRY data.
var versionDescriptors = []uint16{
	0x00a0, // SAM-5 (no version claimed)
	0x0960, // iSCSI (no version claimed)
	0x0460, // SPC-4 (no version claimed)
	0x04c0, // SBC-3 (no version claimed)
}

// stdInquiryLen is the length of halun's standard INQUIRY data: the 36
// mandatory bytes, vendor specific bytes 36-55, and the version descriptors
// up to byte 95.
const stdInquiryLen = 96

func (lu *LU) buildStandardInquiry() []byte {
	b := make([]byte, stdInquiryLen)
	b[0] = 0x00 // peripheral qualifier 000b, direct access block device
	if lu.cfg.Removable {
		b[1] = 0x80 // RMB
	}
	b[2] = 0x06       // VERSION: SPC-4
	b[3] = 0x10 | 0x2 // HISUP, RESPONSE DATA FORMAT 2
	b[4] = stdInquiryLen - 5
	b[7] = 0x02 // CMDQUE
	id := lu.cfg.Identity
	padASCII(b[8:16], id.Vendor)
	padASCII(b[16:32], id.Product)
	padASCII(b[32:36], id.Revision)
	for i, v := range versionDescriptors {
		put16(b[58+2*i:], v)
	}
	return b
}

// noLUInquiry is the standard INQUIRY data for a LUN that has no LU:
// peripheral qualifier 011b, device type 1Fh (SPC-4 6.6.2).
var noLUInquiry = func() []byte {
	b := make([]byte, 36)
	b[0] = 0x7f
	b[2] = 0x06
	b[3] = 0x12
	b[4] = 36 - 5
	padASCII(b[8:16], identity.HalunVendor)
	padASCII(b[16:32], "")
	padASCII(b[32:36], identity.HalunRevision)
	return b
}()

func opInquiryRun(k *task) Result {
	cdb := k.cdb
	alloc := int(be16(cdb[3:]))
	if cdb[1]&0x02 != 0 { // CMDDT, obsolete: SPC-4 6.6.1
		return k.invalidCDB(1, 1)
	}
	evpd := cdb[1]&0x01 != 0
	page := cdb[2]
	if !evpd && page != 0 {
		return k.invalidCDB(2, -1)
	}
	if k.lu == nil {
		if evpd {
			return k.fail(keyIllegalRequest, ascLUNotSupported)
		}
		return data(noLUInquiry, alloc)
	}
	if !evpd {
		// The precomputed data is shared: hand out a copy, with the
		// target's TPGS (ALUA) filled in.
		b := append([]byte(nil), truncate(k.lu.stdInquiry, alloc)...)
		if len(b) > 5 {
			b[5] |= k.alua().tpgs()
		}
		return data(b, alloc)
	}
	for _, p := range vpdPages {
		if p.code == page {
			if p.supported != nil && !p.supported(k.lu) {
				break
			}
			return data(p.build(k), alloc)
		}
	}
	return k.invalidCDB(2, -1)
}
