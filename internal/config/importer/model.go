package importer

import "github.com/halun/halun/internal/identity"

// The source-neutral model every parser produces and the emitter renders.
// It mirrors the halun config schema, plus what the emitter needs to write
// comments: where each entry came from and the notes that belong next to
// it.

// volume is one halun volume to be.
type volume struct {
	name      string
	backend   string // file, block, memory
	path      string
	size      int64 // 0 for block; -1 when unknown (the output then needs an edit)
	blockSize int   // 512 or 4096
	serial    string
	thin      *bool
	readOnly  bool
	removable bool
	// ident is the identity the source target gave the volume, as a
	// spec; its Serial is unused (serial above is the volume's).
	ident      identity.Spec
	writeCache bool
	at         int      // source line
	notes      []string // comment lines above the volume (identity and more)
}

// lunMap maps a LUN number to a volume by name.
type lunMap struct {
	lun    int
	volume string
}

// chap holds CHAP credentials: username/secret authenticate the initiator
// to halun, targetUsername/targetSecret (mutual CHAP) halun to the
// initiator.
type chap struct {
	username, secret             string
	targetUsername, targetSecret string
}

func (c *chap) empty() bool {
	return c == nil || c.username == "" && c.secret == "" && c.targetUsername == "" && c.targetSecret == ""
}

// initiatorACL is one access.initiators entry.
type initiatorACL struct {
	iqn string
	// own is set when the initiator has its own LUN map (luns); otherwise
	// it sees the target's.
	own  bool
	luns []lunMap
	chap *chap
	at   int
}

// param is one RFC 7143 key with its halun value, already validated.
type param struct {
	key   string
	value string // YAML text: true, false, a number, or a flow list
}

// target is one halun target to be.
type target struct {
	iqn          string
	alias        string
	portalGroups []int
	luns         []lunMap
	all          bool // access.all: every initiator, every LUN
	initiators   []initiatorACL
	chap         *chap // target-level CHAP
	params       []param
	at           int
	notes        []string
}

// portalGroup is one halun portal group to be.
type portalGroup struct {
	tag     int
	portals []string
}

// model is a whole converted config.
type model struct {
	format       Format
	source       string // the input's name, for the header
	dataDir      string
	portalGroups []portalGroup
	volumes      []*volume
	targets      []*target
	// discovery holds discovery-session CHAP.
	discovery *chap
	header    []string // format-specific notes for the top of the output
}

func (m *model) volume(name string) *volume {
	for _, v := range m.volumes {
		if v.name == name {
			return v
		}
	}
	return nil
}
