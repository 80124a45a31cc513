package scsi

import (
	"testing"

	"github.com/halun/halun/internal/backend"
)

// fuzzTarget is a fresh target with a thin 512-byte-block LU at LUN 0 and
// a read-only removable 4096-byte-block LU at LUN 1.
func fuzzTarget(t testing.TB) *LUNTarget {
	lu0, err := NewLU(LUConfig{Serial: "fuzz0", Thin: true, WriteCache: true}, backend.NewMemory(64*512))
	if err != nil {
		t.Fatal(err)
	}
	lu1, err := NewLU(LUConfig{Serial: "fuzz1", BlockSize: 4096, ReadOnly: true, Removable: true}, backend.NewMemory(16*4096))
	if err != nil {
		t.Fatal(err)
	}
	return NewTarget(testTargetName, map[uint64]*LU{0: lu0, 1: lu1})
}

// fuzzCommands decodes a fuzz input into commands: per command one header
// byte (bits 0-1 LUN choice, bit 2 second nexus, bits 3-7 data-out length
// in 64-byte units... scaled), a 16-byte CDB and the data-out bytes.
func fuzzCommands(in []byte) []*Command {
	var cmds []*Command
	for len(in) > 0 && len(cmds) < 8 {
		h := in[0]
		in = in[1:]
		cdb := make([]byte, 16)
		n := copy(cdb, in)
		in = in[n:]
		dlen := int(h>>3) * 96
		if dlen > len(in) {
			dlen = len(in)
		}
		c := &Command{CDB: cdb, DataOut: in[:dlen], ExpectedDataLength: uint32(dlen)}
		in = in[dlen:]
		switch h & 3 {
		case 1:
			c.LUN = encodeLUN(1)
		case 2:
			c.LUN = encodeLUN(7)
		case 3:
			c.LUN = uint64(cdb[15])<<56 | uint64(cdb[14])<<48 | uint64(cdb[13])
		}
		c.Nexus = nexusA
		if h&4 != 0 {
			c.Nexus = nexusB
		}
		cmds = append(cmds, c)
	}
	return cmds
}

// checkWellFormed fails if r is not a result a transport can send.
func checkWellFormed(t *testing.T, c *Command, r Result) {
	t.Helper()
	switch r.Status {
	case StatusGood:
		if len(r.Sense) != 0 {
			t.Fatalf("cdb % x: GOOD with sense", c.CDB)
		}
	case StatusCheckCondition:
		s := r.Sense
		if len(s) < 8 || len(s) > 252 {
			t.Fatalf("cdb % x: sense of %d bytes", c.CDB, len(s))
		}
		switch s[0] & 0x7f {
		case 0x70:
			if len(s) < 18 || int(s[7])+8 != len(s) {
				t.Fatalf("cdb % x: bad fixed sense % x", c.CDB, s)
			}
		case 0x72:
			if int(s[7])+8 != len(s) {
				t.Fatalf("cdb % x: bad descriptor sense % x", c.CDB, s)
			}
		default:
			t.Fatalf("cdb % x: sense response code %#x", c.CDB, s[0])
		}
		if len(r.Data) != 0 {
			t.Fatalf("cdb % x: CHECK CONDITION with data", c.CDB)
		}
	case StatusReservationConflict:
	default:
		t.Fatalf("cdb % x: status %#x", c.CDB, r.Status)
	}
	if len(r.Data) > maxTransferBytes+(1<<16) {
		t.Fatalf("cdb % x: %d bytes of data", c.CDB, len(r.Data))
	}
}

// FuzzExecute feeds arbitrary command sequences to a target: it must never
// panic and every result must be well formed.
func FuzzExecute(f *testing.F) {
	f.Add([]byte{0x00, opRead10, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0})
	f.Add(append([]byte{0x28, opWrite10, 0x08, 0, 0, 0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 512)...))
	// Seeds for the commands of SBC-4/SPC-4 added later: one command
	// each, header byte = data-out length in 96-byte units << 3.
	seed := func(cdb []byte, dataOut []byte) {
		h := byte(len(dataOut)/96) << 3
		f.Add(append(append([]byte{h}, pad16(cdb)...), dataOut...))
	}
	seed(writeAtomicCDB(0x08, 2, 0, 1), make([]byte, 576))
	seed(sanitizeCDB(saSanitizeBlockErase, 0), nil)
	seed(sanitizeCDB(0x80|saSanitizeOverwrite, 8), append(overwriteParams(1, []byte{1, 2, 3, 4}), make([]byte, 88)...))
	seed(sanitizeCDB(saSanitizeExitFail, 0), nil)
	{
		tgt := fuzzTarget(f)
		lu := tgt.luns[0]
		p := xcopyParams(1, 0, [][]byte{cscd(lu)}, [][]byte{b2b(0, 0, 4, 0, 8)})
		seed(xcopyCDB(len(p)), append(p, make([]byte, 96-len(p)%96)...))
	}
	rcr := make([]byte, 16)
	rcr[0], rcr[1] = opReceiveCopyResults, saOperatingParams
	put32(rcr[10:], 512)
	seed(rcr, nil)
	seed(rtpgCDB(1), nil)
	stp := stpgParams([2]uint16{1, uint16(ALUAStandby)})
	seed(stpgCDB(len(stp)), append(stp, make([]byte, 96-len(stp))...))
	mv := moveParams(0xa, 0xb, true, 1, iscsiTID(nexusB, true))
	seed(prOutCDB(prOutRegisterMove, prWriteExclusive, len(mv)), append(mv, make([]byte, 192-len(mv))...))
	sip := prOutParams(0, 0xa, 0x0c, iscsiTID(nexusB, false))
	seed(prOutCDB(prOutRegister, 0, len(sip)), append(sip, make([]byte, 96-len(sip)%96)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		tgt := fuzzTarget(t)
		for _, c := range fuzzCommands(in) {
			r := tgt.execute(c)
			checkWellFormed(t, c, r)
		}
	})
}
