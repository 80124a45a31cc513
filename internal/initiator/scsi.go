package initiator

import (
	"context"
	"encoding/binary"
	"fmt"
)

// SCSI status codes (SAM-5).
const (
	StatusGood                = 0x00
	StatusCheckCondition      = 0x02
	StatusConditionMet        = 0x04
	StatusBusy                = 0x08
	StatusReservationConflict = 0x18
	StatusTaskSetFull         = 0x28
	StatusACAActive           = 0x30
	StatusTaskAborted         = 0x40
)

// SCSIError is a command that completed with a status other than GOOD.
// SenseKey, ASC and ASCQ come from the sense data when there is any.
type SCSIError struct {
	Status              uint8
	SenseKey, ASC, ASCQ uint8
	Sense               []byte
}

func (e *SCSIError) Error() string {
	if len(e.Sense) == 0 {
		return fmt.Sprintf("initiator: SCSI status 0x%02x", e.Status)
	}
	return fmt.Sprintf("initiator: SCSI status 0x%02x, sense key 0x%x, ASC/ASCQ 0x%02x/0x%02x",
		e.Status, e.SenseKey, e.ASC, e.ASCQ)
}

// ParseResponseData splits a SCSI Response (or SCSI Async Message) data
// segment into sense data and what follows (RFC 7143 §11.4.7): a 2-byte
// SenseLength, the sense data, then any response data. Results alias b.
func ParseResponseData(b []byte) (sense, rest []byte, err error) {
	if len(b) == 0 {
		return nil, nil, nil
	}
	if len(b) < 2 {
		return nil, nil, fmt.Errorf("data segment of %d byte, too short for SenseLength", len(b))
	}
	n := int(binary.BigEndian.Uint16(b))
	if 2+n > len(b) {
		return nil, nil, fmt.Errorf("SenseLength %d exceeds the %d-byte data segment", n, len(b))
	}
	if n > 0 {
		sense = b[2 : 2+n]
	}
	if len(b) > 2+n {
		rest = b[2+n:]
	}
	return sense, rest, nil
}

// ParseSense extracts sense key, ASC and ASCQ from fixed (0x70, 0x71) or
// descriptor (0x72, 0x73) format sense data; ok is false for anything else
// or data too short to hold them.
func ParseSense(b []byte) (key, asc, ascq uint8, ok bool) {
	if len(b) < 1 {
		return 0, 0, 0, false
	}
	switch b[0] & 0x7f {
	case 0x70, 0x71:
		if len(b) < 3 {
			return 0, 0, 0, false
		}
		key = b[2] & 0x0f
		// ADDITIONAL SENSE LENGTH (byte 7) bounds the rest.
		if len(b) >= 14 && int(b[7]) >= 6 {
			asc, ascq = b[12], b[13]
		}
		return key, asc, ascq, true
	case 0x72, 0x73:
		if len(b) < 4 {
			return 0, 0, 0, false
		}
		return b[1] & 0x0f, b[2], b[3], true
	}
	return 0, 0, 0, false
}

// Err turns a response into an error: nil for GOOD (and CONDITION MET), a
// *ResponseError for an iSCSI target failure, a *SCSIError otherwise.
func (r *Response) Err() error {
	if r.Response != 0 {
		return &ResponseError{Response: r.Response}
	}
	if r.Status == StatusGood || r.Status == StatusConditionMet {
		return nil
	}
	e := &SCSIError{Status: r.Status, Sense: r.Sense}
	e.SenseKey, e.ASC, e.ASCQ, _ = ParseSense(r.Sense)
	return e
}

// run executes a command and converts its outcome to an error.
func (s *Session) run(ctx context.Context, lun uint64, cdb, out []byte, readLen int) (*Response, error) {
	r, err := s.Execute(ctx, lun, cdb, out, readLen)
	if err != nil {
		return nil, err
	}
	return r, r.Err()
}

// Read reads blocks blocks at lba with READ(16) and returns exactly
// blocks*blockSize bytes (a short transfer is an error).
func (s *Session) Read(ctx context.Context, lun, lba uint64, blocks uint32, blockSize int) ([]byte, error) {
	n := int(blocks) * blockSize
	r, err := s.run(ctx, lun, rw16(0x88, lba, blocks, false), nil, n)
	if err != nil {
		return nil, err
	}
	if len(r.Data) != n {
		return nil, fmt.Errorf("initiator: READ(16) returned %d of %d bytes (residual %d)", len(r.Data), n, r.Residual)
	}
	return r.Data, nil
}

// Write writes data (a whole number of blocks) at lba with WRITE(16).
func (s *Session) Write(ctx context.Context, lun, lba uint64, data []byte, blockSize int) error {
	return s.write16(ctx, lun, lba, data, blockSize, false)
}

// WriteFUA is Write with the FUA bit set.
func (s *Session) WriteFUA(ctx context.Context, lun, lba uint64, data []byte, blockSize int) error {
	return s.write16(ctx, lun, lba, data, blockSize, true)
}

func (s *Session) write16(ctx context.Context, lun, lba uint64, data []byte, blockSize int, fua bool) error {
	if blockSize <= 0 || len(data)%blockSize != 0 {
		return fmt.Errorf("initiator: write of %d bytes is not a multiple of the %d-byte block", len(data), blockSize)
	}
	r, err := s.run(ctx, lun, rw16(0x8a, lba, uint32(len(data)/blockSize), fua), data, 0)
	if err != nil {
		return err
	}
	if r.ResidualOverflow || r.ResidualUnderflow {
		return fmt.Errorf("initiator: WRITE(16) residual %d (overflow %v, underflow %v)", r.Residual, r.ResidualOverflow, r.ResidualUnderflow)
	}
	return nil
}

func rw16(op byte, lba uint64, blocks uint32, fua bool) []byte {
	cdb := make([]byte, 16)
	cdb[0] = op
	if fua {
		cdb[1] = 0x08
	}
	binary.BigEndian.PutUint64(cdb[2:], lba)
	binary.BigEndian.PutUint32(cdb[10:], blocks)
	return cdb
}

// SyncCache issues SYNCHRONIZE CACHE(10) for the whole LUN.
func (s *Session) SyncCache(ctx context.Context, lun uint64) error {
	_, err := s.run(ctx, lun, []byte{0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil, 0)
	return err
}

// TestUnitReady issues TEST UNIT READY.
func (s *Session) TestUnitReady(ctx context.Context, lun uint64) error {
	_, err := s.run(ctx, lun, make([]byte, 6), nil, 0)
	return err
}

// Inquiry issues INQUIRY with an allocation length of alloc bytes (at most
// 65535) and returns the data received.
func (s *Session) Inquiry(ctx context.Context, lun uint64, evpd bool, page uint8, alloc int) ([]byte, error) {
	if alloc <= 0 || alloc > 0xffff {
		return nil, fmt.Errorf("initiator: INQUIRY allocation length %d", alloc)
	}
	cdb := []byte{0x12, 0, page, byte(alloc >> 8), byte(alloc), 0}
	if evpd {
		cdb[1] = 1
	}
	r, err := s.run(ctx, lun, cdb, nil, alloc)
	if err != nil {
		return nil, err
	}
	return r.Data, nil
}

// ReadCapacity16 issues READ CAPACITY(16) and returns the number of blocks
// (last LBA + 1) and the logical block length.
func (s *Session) ReadCapacity16(ctx context.Context, lun uint64) (blocks uint64, blockSize uint32, err error) {
	cdb := make([]byte, 16)
	cdb[0], cdb[1] = 0x9e, 0x10
	binary.BigEndian.PutUint32(cdb[10:], 32)
	r, err := s.run(ctx, lun, cdb, nil, 32)
	if err != nil {
		return 0, 0, err
	}
	if len(r.Data) < 12 {
		return 0, 0, fmt.Errorf("initiator: READ CAPACITY(16) returned %d bytes", len(r.Data))
	}
	return binary.BigEndian.Uint64(r.Data) + 1, binary.BigEndian.Uint32(r.Data[8:]), nil
}

// ReportLUNs issues REPORT LUNS (select report 0) on LUN 0 and returns the
// LUNs, decoded to numbers where they are single-level (see DecodeLUN).
func (s *Session) ReportLUNs(ctx context.Context) ([]uint64, error) {
	alloc := 8 + 8*256
	for {
		cdb := make([]byte, 12)
		cdb[0] = 0xa0
		binary.BigEndian.PutUint32(cdb[6:], uint32(alloc))
		r, err := s.run(ctx, 0, cdb, nil, alloc)
		if err != nil {
			return nil, err
		}
		luns, need, err := ParseReportLUNs(r.Data)
		if err != nil {
			return nil, err
		}
		if need <= alloc || alloc >= 1<<24 {
			return luns, nil
		}
		alloc = need
	}
}

// ParseReportLUNs decodes REPORT LUNS parameter data. need is the length the
// whole list takes (header included); when it exceeds len(b) the list is
// truncated to the entries present.
func ParseReportLUNs(b []byte) (luns []uint64, need int, err error) {
	if len(b) < 8 {
		return nil, 0, fmt.Errorf("REPORT LUNS data of %d bytes, shorter than its header", len(b))
	}
	listLen := binary.BigEndian.Uint32(b)
	if listLen%8 != 0 {
		return nil, 0, fmt.Errorf("REPORT LUNS list length %d is not a multiple of 8", listLen)
	}
	need = 8 + int(listLen)
	body := b[8:]
	if len(body) > int(listLen) {
		body = body[:listLen]
	}
	for len(body) >= 8 {
		luns = append(luns, DecodeLUN(binary.BigEndian.Uint64(body)))
		body = body[8:]
	}
	return luns, need, nil
}
