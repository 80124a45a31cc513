package identity

import (
	"bytes"
	"strings"
)

// scsiIDSearch is the order in which Linux's scsi_id picks the VPD page
// 0x83 designator it names a disk by (systemd,
// src/udev/scsi_id/scsi_serial.c, id_search_list): NAA IEEE Registered
// Extended, then IEEE Registered, then any NAA, EUI-64, T10 vendor ID,
// vendor specific — each binary before ASCII. Only designators whose
// association is the logical unit count (check_fill_0x83_id); the first
// entry of the list, target port group, only records the group.
var scsiIDSearch = []struct {
	typ     byte
	naa     int // NAA field to match; -1: any
	codeSet byte
}{
	{TypeNAA, 6, CodeSetBinary}, {TypeNAA, 6, CodeSetASCII},
	{TypeNAA, 5, CodeSetBinary}, {TypeNAA, 5, CodeSetASCII},
	{TypeNAA, -1, CodeSetBinary}, {TypeNAA, -1, CodeSetASCII},
	{TypeEUI64, -1, CodeSetBinary}, {TypeEUI64, -1, CodeSetASCII},
	{TypeT10Vendor, -1, CodeSetBinary}, {TypeT10Vendor, -1, CodeSetASCII},
	{TypeVendorSpecific, -1, CodeSetBinary}, {TypeVendorSpecific, -1, CodeSetASCII},
}

const hexDigits = "0123456789abcdef"

// WWID is the name Linux gives the disk: what `scsi_id --whitelisted
// --replace-whitespace` prints, udev's ID_SERIAL, dm-multipath's WWID and
// XenServer's SCSIid. It is the designator type as one hex digit followed
// by the designator — binary ones in lower-case hex, ASCII ones as text
// (check_fill_0x83_id) — with each run of white space replaced by one
// underscore and trailing white space dropped (udev_replace_whitespace).
// Without a usable designator scsi_id falls back to VPD page 0x80: "S",
// the INQUIRY vendor and product, and the unit serial
// (do_scsi_page80_inquiry).
func (id Identity) WWID() string {
	return replaceWhitespace(id.rawWWID())
}

func (id Identity) rawWWID() string {
	for _, s := range scsiIDSearch {
		for _, d := range id.Designators {
			if d.Type != s.typ || d.CodeSet != s.codeSet || len(d.Value) == 0 {
				continue
			}
			if s.naa >= 0 && int(d.Value[0]>>4) != s.naa {
				continue
			}
			var b strings.Builder
			b.WriteByte(hexDigits[d.Type])
			if d.Type == TypeVendorSpecific {
				b.WriteString(pad(id.Vendor, maxVendor))
				b.WriteString(pad(id.Product, maxProduct))
			}
			if d.CodeSet == CodeSetASCII {
				// scsi_id copies the bytes into a C string: a NUL
				// ends it.
				v := d.Value
				if i := bytes.IndexByte(v, 0); i >= 0 {
					v = v[:i]
				}
				b.Write(v)
			} else {
				for _, c := range d.Value {
					b.WriteByte(hexDigits[c>>4])
					b.WriteByte(hexDigits[c&0xf])
				}
			}
			return b.String()
		}
	}
	return "S" + pad(id.Vendor, maxVendor) + pad(id.Product, maxProduct) + id.UnitSerial
}

// pad pads s with spaces to n bytes, as INQUIRY data carries it.
func pad(s string, n int) string {
	if len(s) >= n {
		return s[:n]
	}
	return s + strings.Repeat(" ", n-len(s))
}

// replaceWhitespace does what udev_replace_whitespace does to scsi_id's
// output: leading and trailing white space dropped, each inner run of it
// one underscore.
func replaceWhitespace(s string) string {
	return strings.Join(strings.Fields(s), "_")
}
