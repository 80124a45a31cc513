package login

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// Fuzz input format: one config byte, then records of
//
//	flags  byte: T 0x80, C 0x40, CSG bits 2-3, NSG bits 0-1 (as in the BHS)
//	change byte: low 3 bits pick a header field to alter (1 ISID, 2 TSIH,
//	             3 ITT, 4 CID, 5 CmdSN, 6 VersionMin, 7 VersionMax)
//	length uint16 big-endian, then that many bytes of login text.
//
// Config bits: 0x01 CHAP-like Authenticator, 0x02 Admit refuses, 0x04
// strict target settings (target offers keys), 0x08 added connection
// (TSIH != 0), 0x10 Discovery settings with CRC32C required.
func FuzzStep(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		cfgBits, in := in[0], in[1:]
		env := newEnv()
		if cfgBits&0x02 != 0 {
			env.status = StatusTooManyConnections
		}
		if cfgBits&0x04 != 0 {
			ti := env.targets[iqnTarget]
			ti.Params.ImmediateData = false
			ti.Params.MaxBurstLength, ti.Params.FirstBurstLength = 4096, 512
			ti.Params.HeaderDigest = []string{DigestCRC32C}
			env.targets[iqnTarget] = ti
		}
		cfg := Config{PortalGroupTag: tpgt, Env: env}
		if cfgBits&0x01 != 0 {
			cfg.Auth = &scriptedAuth{methods: []string{AuthCHAP, AuthNone}}
		}
		if cfgBits&0x10 != 0 {
			cfg.DiscoverySettings = DefaultSettings()
			cfg.DiscoverySettings.DataDigest = []string{DigestCRC32C}
		}
		n := New(cfg)
		req := pdu.LoginReq{ISID: pdu.ISID{0x80, 1, 2, 3, 4, 5}, ITT: 1, CID: 0, CmdSN: 1}
		if cfgBits&0x08 != 0 {
			req.TSIH = 5
		}
		var joined textJoiner
		ended := false
		for len(in) >= 4 {
			flags, change := in[0], in[1]
			l := int(binary.BigEndian.Uint16(in[2:4]))
			in = in[4:]
			l = min(l, len(in))
			data := in[:l]
			in = in[l:]

			r := req
			r.Transit, r.Continue = flags&0x80 != 0, flags&0x40 != 0
			r.CSG, r.NSG = flags>>2&3, flags&3
			switch change & 7 {
			case 1:
				r.ISID[0]++
			case 2:
				r.TSIH++
			case 3:
				r.ITT++
			case 4:
				r.CID++
			case 5:
				r.CmdSN++
			case 6:
				r.VersionMin++
			case 7:
				r.VersionMax++
			}
			resp := n.Step(&r, data)
			checkWellFormed(t, &r, &resp)
			joined.feed(t, &resp)
			if ended && !resp.Failed {
				t.Fatalf("login went on after it ended: %+v", resp)
			}
			if resp.Done != (n.Result() != nil) {
				t.Fatalf("Done=%v but Result %v", resp.Done, n.Result())
			}
			if resp.Done || resp.Failed {
				ended = true
			}
		}
		if len(env.admitted) > 1 {
			t.Fatalf("Admit called %d times", len(env.admitted))
		}
	})
}

// fuzzRecord encodes one request of the fuzz input format.
func fuzzRecord(csg, nsg uint8, transit, cont bool, pairs ...string) []byte {
	flags := csg<<2 | nsg
	if transit {
		flags |= 0x80
	}
	if cont {
		flags |= 0x40
	}
	d := text(pairs...)
	b := []byte{flags, 0, byte(len(d) >> 8), byte(len(d))}
	return append(b, d...)
}

func fuzzSeeds() [][]byte {
	cat := func(cfg byte, recs ...[]byte) []byte {
		b := []byte{cfg}
		for _, r := range recs {
			b = append(b, r...)
		}
		return b
	}
	return [][]byte{
		cat(0, fuzzRecord(0, 1, true, false, first("AuthMethod=None")...),
			fuzzRecord(1, 3, true, false, openISCSIOps...)),
		cat(0, fuzzRecord(1, 3, true, false, first("HeaderDigest=CRC32C,None", "MaxBurstLength=262144")...)),
		cat(0, fuzzRecord(0, 3, true, false, "InitiatorName="+iqnInit, "SessionType=Discovery", "AuthMethod=None")),
		cat(1, fuzzRecord(0, 1, false, false, first("AuthMethod=CHAP,None")...),
			fuzzRecord(0, 0, false, false, "CHAP_A=5"),
			fuzzRecord(0, 1, true, false, "CHAP_N=good", "CHAP_R=0x01"),
			fuzzRecord(1, 3, true, false, "MaxRecvDataSegmentLength=8192")),
		cat(4, fuzzRecord(1, 3, true, false, first()...),
			fuzzRecord(1, 3, true, false, "ImmediateData=No", "MaxBurstLength=4096", "FirstBurstLength=512", "HeaderDigest=CRC32C")),
		cat(8, fuzzRecord(1, 3, true, false, first("MaxBurstLength=512", "DataDigest=None")...)),
		cat(2, fuzzRecord(1, 3, true, false, first()...)),
		cat(0, fuzzRecord(1, 0, false, true, "InitiatorName="+iqnInit),
			fuzzRecord(1, 3, true, false, "TargetName="+iqnTarget, "X-foo=bar", "IFMarkInt=1")),
	}
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzStep from fuzzSeeds when
// HALUN_WRITE_FUZZ_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("HALUN_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set HALUN_WRITE_FUZZ_SEEDS=1 to regenerate the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzStep")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range fuzzSeeds() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
