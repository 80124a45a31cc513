package importer

import (
	"os"
	"testing"

	"github.com/halun/halun/internal/config"
)

// The fuzz targets call the parsers without Convert's recover, so a panic
// anywhere in parsing, conversion or rendering fails them. Seeds are the
// sample configs plus testdata/fuzz/<Target>.

func fuzzConvert(t *testing.T, f Format, data []byte, conv func(string, []byte, Options, *findings) (*model, error)) {
	o := Options{Format: f, DataDir: config.DefaultDataDir, Stat: fakeStat(hostFiles)}
	fs := &findings{file: "fuzz"}
	m, err := conv("fuzz", data, o, fs)
	if err != nil {
		if _, ok := err.(Errors); !ok {
			t.Fatalf("error is %T, not Errors: %v", err, err)
		}
		return
	}
	m.format, m.source, m.dataDir = f, "fuzz", o.DataDir
	if len(m.portalGroups) == 0 {
		m.portalGroups = []portalGroup{{tag: 1, portals: []string{":3260"}}}
	}
	checkCHAP(m, fs)
	out := render(m)
	_, _ = config.Parse("fuzz", out)
}

func addSeed(f *testing.F, name string) {
	if data, err := os.ReadFile("testdata/" + name); err == nil {
		f.Add(data)
	}
}

func FuzzParseIETD(f *testing.F) {
	addSeed(f, "ietd.conf")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzConvert(t, FormatIETD, data, convertIETD) })
}

func FuzzParseSCST(f *testing.F) {
	addSeed(f, "scst.conf")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzConvert(t, FormatSCST, data, convertSCST) })
}

func FuzzParseTargetcli(f *testing.F) {
	addSeed(f, "saveconfig.json")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzConvert(t, FormatTargetcli, data, convertTargetcli) })
}

func FuzzParsePacemaker(f *testing.F) {
	addSeed(f, "crm-configure-show.txt")
	addSeed(f, "cib.xml")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzConvert(t, FormatPacemaker, data, convertPacemaker) })
}

func FuzzParseTGTConf(f *testing.F) {
	addSeed(f, "tgt-targets.conf")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzConvert(t, FormatTGT, data, convertTGTConf) })
}

func FuzzParseTGTShow(f *testing.F) {
	addSeed(f, "tgtadm-show.txt")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzConvert(t, FormatTGTAdm, data, convertTGTShow) })
}
