package scsi

import "fmt"

// Vital product data pages (SPC-4 7.8, SBC-3 6.6).

// vpdPage is one supported VPD page.
type vpdPage struct {
	code      byte
	build     func(*task) []byte
	supported func(*LU) bool
}

// vpdPages lists the supported pages in ascending order (the order VPD
// 0x00 reports them).
var vpdPages []vpdPage

func init() {
	vpdPages = []vpdPage{
		{code: 0x00, build: vpdSupportedPages},
		{code: 0x80, build: vpdUnitSerial},
		{code: 0x83, build: vpdDeviceIdentification},
		{code: 0x86, build: vpdExtendedInquiry},
		{code: 0xb0, build: vpdBlockLimits},
		{code: 0xb1, build: vpdBlockCharacteristics},
		{code: 0xb2, build: vpdLogicalBlockProvisioning},
	}
}

// vpdHeader returns a page of n bytes after the 4-byte header, with the
// header filled in.
func vpdHeader(code byte, n int) []byte {
	b := make([]byte, 4+n)
	b[1] = code
	put16(b[2:], uint16(n))
	return b
}

func vpdSupportedPages(k *task) []byte {
	var codes []byte
	for _, p := range vpdPages {
		if p.supported == nil || p.supported(k.lu) {
			codes = append(codes, p.code)
		}
	}
	b := vpdHeader(0x00, len(codes))
	copy(b[4:], codes)
	return b
}

// vpdUnitSerial is the Unit Serial Number page (SPC-4 7.8.17).
func vpdUnitSerial(k *task) []byte {
	s := k.lu.cfg.Identity.UnitSerial
	b := vpdHeader(0x80, len(s))
	copy(b[4:], s)
	return b
}

// Designator fields (SPC-4 7.8.6.1).
const (
	codeSetBinary = 0x1
	codeSetASCII  = 0x2
	codeSetUTF8   = 0x3

	assocLU         = 0x00
	assocTargetPort = 0x10
	assocTarget     = 0x20

	desigT10Vendor    = 0x1
	desigNAA          = 0x3
	desigRelativePort = 0x4
	desigTPG          = 0x5
	desigSCSIName     = 0x8

	protoISCSI = 0x5
	piv        = 0x80
)

// designator appends one designation descriptor.
func designator(b []byte, proto, codeSet, assocType byte, id []byte) []byte {
	b = append(b, proto<<4|codeSet, assocType, 0, byte(len(id)))
	return append(b, id...)
}

// relativePortID is the RELATIVE TARGET PORT IDENTIFIER of the iSCSI
// target port a nexus uses: halun has one target port per target portal
// group, identified by its tag (1..65535; 0 is reserved).
func relativePortID(n Nexus) uint16 {
	if n.TPGT == 0 {
		return 1
	}
	return n.TPGT
}

// scsiName pads an SCSI name string to a multiple of four bytes with at
// least one NUL (SPC-4 7.8.6.11).
func scsiName(s string) []byte {
	n := (len(s) + 4) &^ 3
	b := make([]byte, n)
	copy(b, s)
	return b
}

// vpdDeviceIdentification is the Device Identification page (SPC-4
// 7.8.6): the LU's designators (its Identity), then the target
// port's relative port and port group, and the SCSI names of the target
// port (iSCSI name,t,0xTPGT) and the target device.
func vpdDeviceIdentification(k *task) []byte {
	name := k.cmd.Nexus.TargetName
	if name == "" {
		name = k.t.name
	}
	tpgt := k.cmd.Nexus.TPGT
	b := make([]byte, 4, 128)
	b[1] = 0x83
	b = append(b, k.lu.luDesigs...)
	var v [4]byte
	put16(v[2:], relativePortID(k.cmd.Nexus))
	b = designator(b, protoISCSI, codeSetBinary, piv|assocTargetPort|desigRelativePort, v[:])
	put16(v[2:], tpgt)
	b = designator(b, protoISCSI, codeSetBinary, piv|assocTargetPort|desigTPG, v[:])
	if name != "" {
		b = designator(b, protoISCSI, codeSetUTF8, piv|assocTargetPort|desigSCSIName,
			scsiName(fmt.Sprintf("%s,t,0x%04x", name, tpgt)))
		b = designator(b, protoISCSI, codeSetUTF8, piv|assocTarget|desigSCSIName, scsiName(name))
	}
	put16(b[2:], uint16(len(b)-4))
	return b
}

// vpdExtendedInquiry is the Extended INQUIRY Data page (SPC-4 7.8.7).
func vpdExtendedInquiry(k *task) []byte {
	b := vpdHeader(0x86, 0x3c)
	b[5] = 0x07 // HEADSUP, ORDSUP, SIMPSUP
	if k.lu.cfg.WriteCache {
		b[6] = 0x01 // V_SUP: a volatile cache exists
	}
	return b
}

// Block limits (SBC-3 6.6.3).
func vpdBlockLimits(k *task) []byte {
	lu := k.lu
	b := vpdHeader(0xb0, 0x3c)
	if lu.wsnz() {
		b[4] = 0x01
	}
	b[5] = maxCAWBlocks
	granularity := uint16(1)
	if lu.bs < 4096 {
		granularity = uint16(4096 / lu.bs)
	}
	put16(b[6:], granularity)                    // OPTIMAL TRANSFER LENGTH GRANULARITY
	put32(b[8:], uint32(lu.maxTransferBlocks())) // MAXIMUM TRANSFER LENGTH
	put32(b[12:], uint32((1<<20)>>lu.shift))     // OPTIMAL TRANSFER LENGTH
	if lu.cfg.Thin {
		put32(b[20:], 0xffffffff)    // MAXIMUM UNMAP LBA COUNT: no limit
		put32(b[24:], maxUnmapDescs) // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
		if g := optimalUnmapGranularity(lu); g != 0 {
			put32(b[28:], g)          // OPTIMAL UNMAP GRANULARITY
			put32(b[32:], 0x80000000) // UGAVALID, alignment 0
		}
	}
	put64(b[36:], maxWriteSameBlocks) // MAXIMUM WRITE SAME LENGTH
	// Atomic writes (SBC-4 6.6.4): any length up to MAXIMUM ATOMIC
	// TRANSFER LENGTH, no alignment or granularity, no atomic boundary.
	put32(b[44:], uint32(lu.maxAtomicBlocks()))
	return b
}

// optimalUnmapGranularity is the OPTIMAL UNMAP GRANULARITY a thin LU
// reports, in blocks: 4 KiB worth on 512-byte LUs, and 0 ("not reported",
// SBC-3 6.6.3) on LUs with larger blocks. QEMU up to at least 7.2 treats a
// reported granularity of 4 KiB–16 MiB with LBPRZ as its allocation-map
// cluster size and then, on reads of 32 KiB or more, asks GET LBA STATUS
// for 2 GiB − 512 bytes, which is not a whole number of 4096-byte blocks:
// block/iscsi.c asserts on it and aborts the hypervisor. Without the hint
// QEMU keeps no allocation map; UNMAP, WRITE SAME with UNMAP, LBPRZ and GET
// LBA STATUS still work, and Linux takes its discard granularity from the
// physical block size, which is the same 4 KiB.
func optimalUnmapGranularity(lu *LU) uint32 {
	if lu.bs > 512 {
		return 0
	}
	return 4096 / lu.bs
}

// Block Device Characteristics (SBC-3 6.6.2): a non-rotating medium.
func vpdBlockCharacteristics(k *task) []byte {
	b := vpdHeader(0xb1, 0x3c)
	put16(b[4:], 0x0001) // MEDIUM ROTATION RATE: non-rotating
	if sanitizeBlockErase(k.lu) {
		// WABEREQ, WACEREQ 01b: reads after a block or cryptographic
		// erase succeed (SBC-4 6.6.2).
		b[7] = 0x40 | 0x10
	}
	return b
}

// Logical Block Provisioning (SBC-3 6.6.4): thin LUs support UNMAP and
// WRITE SAME(10/16) with UNMAP, and unmapped blocks read as zeros.
func vpdLogicalBlockProvisioning(k *task) []byte {
	b := vpdHeader(0xb2, 4)
	if k.lu.cfg.Thin {
		b[5] = 0x80 | 0x40 | 0x20 | 0x04 // LBPU, LBPWS, LBPWS10, LBPRZ
		b[6] = 0x02                      // PROVISIONING TYPE: thin
	}
	return b
}

// wsnz reports WSNZ (SBC-3 6.6.3): a thin LU refuses WRITE SAME with zero
// blocks, so that a zero count with UNMAP can never deallocate to the end
// of the volume by mistake; other LUs write to the end of the medium.
func (lu *LU) wsnz() bool { return lu.cfg.Thin }
