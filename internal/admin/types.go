// Package admin owns halun's management API: HTTP+JSON over a Unix socket
// that only root (and the daemon's own user) may use. The daemon serves it
// with Serve over a Node, the running node; the halun CLI talks to it with
// Client. Listing calls return the node's state; changing calls edit the
// config file and apply the difference live, so the file always says what
// runs. The package knows nothing of wire formats or SCSI.
package admin

import (
	"time"

	"github.com/halun/halun/internal/config"
)

// Node is what the API manages: the running halun node.
type Node interface {
	Status() Status
	// Stats are the volumes' counters now.
	Stats() Stats
	Volumes() []Volume
	Targets() []Target
	Portals() []Portal
	Sessions() []Session
	// Reload rereads the config source and applies the difference.
	Reload() (*Result, error)
	// Change edits the config (written back atomically) and applies the
	// difference; what describes the change for logs.
	Change(what string, edit func(*config.Document) error) (*Result, error)
	// SetALUA sets the ALUA state of a target port group (portal group
	// tag) on every target reachable through it.
	SetALUA(group uint16, state string) (*Result, error)
	// AddPortal adds a listening address to portal group group, creating
	// the group if it is new; RemovePortal removes one (and its group,
	// if it was the last). Both are written to the config and applied live.
	AddPortal(group uint16, addr string) (*Result, error)
	RemovePortal(addr string) (*Result, error)
}

// Status describes the daemon.
type Status struct {
	Version string `json:"version"`
	// Config is the config file, or "embedded default".
	Config string `json:"config"`
	// Persistent is false when changes cannot be written back (the
	// embedded default): they last until the daemon stops.
	Persistent bool   `json:"persistent"`
	DataDir    string `json:"data_dir"`
}

// Volume is a volume as served.
type Volume struct {
	Name      string `json:"name"`
	Backend   string `json:"backend"`
	Path      string `json:"path,omitempty"`
	Size      int64  `json:"size"`
	BlockSize int    `json:"block_size"`
	Serial    string `json:"serial"`
	// WWID is the name Linux's `scsi_id --whitelisted` prints for the LU
	// and XenServer gives the disk (its SCSIid), e.g. "3" and the NAA
	// designator of VPD page 0x83 in hex.
	WWID string `json:"wwid"`
	// Style is the identity style the volume's identity is computed in:
	// halun, or lio, scst, iet, tgt for a volume moved from one of them.
	Style string `json:"style"`
	// Vendor, Product and Revision are the standard INQUIRY fields.
	Vendor   string `json:"vendor"`
	Product  string `json:"product"`
	Revision string `json:"revision"`
	// Designators are the logical-unit designators of VPD page 0x83, one
	// line each ("NAA 6001405…", "T10 vendor ID \"…\"").
	Designators []string `json:"designators"`
	ReadOnly    bool     `json:"read_only,omitempty"`
	Thin        bool     `json:"thin,omitempty"`
	WriteCache  bool     `json:"write_cache,omitempty"`
	Removable   bool     `json:"removable,omitempty"`
	// MappedBy lists "IQN LUN n" for every mapping of the volume.
	MappedBy []string `json:"mapped_by,omitempty"`
}

// LUN maps a LUN number to a volume.
type LUN struct {
	LUN    uint16 `json:"lun"`
	Volume string `json:"volume"`
}

// ACL is one initiator's access entry.
type ACL struct {
	Initiator string `json:"initiator"`
	// LUNs is the initiator's own LUN map; empty means the target's.
	LUNs []LUN `json:"luns,omitempty"`
	CHAP bool  `json:"chap,omitempty"`
}

// Target is a target as served.
type Target struct {
	IQN          string   `json:"iqn"`
	Alias        string   `json:"alias,omitempty"`
	PortalGroups []uint16 `json:"portal_groups"`
	LUNs         []LUN    `json:"luns"`
	// AllInitiators lets every initiator in; otherwise ACLs does.
	AllInitiators bool  `json:"all_initiators"`
	ACLs          []ACL `json:"acls,omitempty"`
	CHAP          bool  `json:"chap,omitempty"`
	Sessions      int   `json:"sessions"`
}

// Portal is one portal of a portal group.
type Portal struct {
	Group uint16 `json:"group"`
	// Addr is the configured address; Bound what the listener bound
	// (they differ for port 0).
	Addr  string `json:"addr"`
	Bound string `json:"bound,omitempty"`
	// ALUA is the state of the group's target port group.
	ALUA string `json:"alua"`
}

// KV is a negotiated key and its value, in the order iscsiadm prints them.
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Session is one iSCSI session.
type Session struct {
	Initiator  string `json:"initiator"`
	ISID       string `json:"isid"`
	TSIH       uint16 `json:"tsih"`
	Target     string `json:"target,omitempty"`
	TPGT       uint16 `json:"tpgt"`
	Discovery  bool   `json:"discovery,omitempty"`
	Params     []KV   `json:"params"`
	Commands   uint64 `json:"commands"`
	ReadBytes  uint64 `json:"read_bytes"`
	WriteBytes uint64 `json:"write_bytes"`
	Conns      []Conn `json:"connections"`
}

// Conn is one connection of a session.
type Conn struct {
	CID    uint16 `json:"cid"`
	Local  string `json:"portal"`
	Remote string `json:"initiator_addr"`
}

// Result reports what a change or reload did.
type Result struct {
	// Changes describes every difference applied, one per line, e.g.
	// "target iqn…: LUN 3 (volume data) added". Empty: nothing changed.
	Changes []string `json:"changes"`
	// SessionsEnded counts sessions ended because their initiator lost
	// access or their target went away.
	SessionsEnded int `json:"sessions_ended"`
	// ConnectionsClosed counts connections closed because the portal
	// they came through was removed or moved to another portal group.
	ConnectionsClosed int `json:"connections_closed,omitempty"`
	// Persisted says the change was written to the config file.
	Persisted bool `json:"persisted"`
	// Config is the file written or reread.
	Config string `json:"config,omitempty"`
}

// ALUA states as the CLI and API spell them (SPC-4 6.37 asymmetric access
// states): the config's spelling, so a state set through the API is written
// back verbatim.
const (
	ALUAActiveOptimized    = config.ALUAActiveOptimized
	ALUAActiveNonOptimized = config.ALUAActiveNonOptimized
	ALUAStandby            = config.ALUAStandby
	ALUAUnavailable        = config.ALUAUnavailable
	ALUATransitioning      = config.ALUATransitioning
)

// ALUAStates lists the states SetALUA accepts.
var ALUAStates = config.ALUAStates

// Requests.

// VolumeAdd asks for a new volume.
type VolumeAdd struct {
	Name       string `json:"name"`
	Backend    string `json:"backend"`
	Path       string `json:"path,omitempty"`
	Size       string `json:"size,omitempty"`
	BlockSize  int    `json:"block_size,omitempty"`
	Serial     string `json:"serial,omitempty"`
	Thin       *bool  `json:"thin,omitempty"`
	ReadOnly   bool   `json:"read_only,omitempty"`
	WriteCache bool   `json:"write_cache,omitempty"`
}

// VolumeResize asks for a new size, e.g. "30GiB".
type VolumeResize struct {
	Size string `json:"size"`
}

// TargetAdd asks for a new target.
type TargetAdd struct {
	IQN           string   `json:"iqn"`
	Alias         string   `json:"alias,omitempty"`
	PortalGroups  []uint16 `json:"portal_groups,omitempty"`
	LUNs          []LUN    `json:"luns,omitempty"`
	AllInitiators bool     `json:"all_initiators,omitempty"`
	Initiators    []string `json:"initiators,omitempty"`
}

// LUNMap asks to map a volume as a LUN, in an initiator's own map if
// Initiator is set.
type LUNMap struct {
	Volume    string `json:"volume"`
	Initiator string `json:"initiator,omitempty"`
}

// ACLAdd asks to let an initiator in.
type ACLAdd struct {
	Initiator string `json:"initiator"`
	LUNs      []LUN  `json:"luns,omitempty"`
}

// PortalAdd asks to listen on an address (in the path) in portal group
// Group.
type PortalAdd struct {
	Group uint16 `json:"group"`
}

// ALUASet asks for a target port group state.
type ALUASet struct {
	State string `json:"state"`
}

// ErrorBody is the JSON body of every failed request.
type ErrorBody struct {
	Error string `json:"error"`
	// Details are config problems, one per line as file:line: field: msg.
	Details []string `json:"details,omitempty"`
}

// Stats are the daemon's counters at one moment, for `halun status`,
// which turns two of them into rates.
type Stats struct {
	Time    time.Time     `json:"time"`
	Volumes []VolumeStats `json:"volumes"`
	// BufferedBytes is the data-out held for commands now.
	BufferedBytes int64 `json:"buffered_bytes"`
}

// VolumeStats are one volume's counters since the daemon started.
type VolumeStats struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	// Allocated is the backing the volume holds; -1 when unknown.
	Allocated int64 `json:"allocated"`
	// Commands and Seconds (summed latency) are by class: read, write,
	// unmap, write_same, sync, other.
	Commands     map[string]uint64  `json:"commands"`
	Seconds      map[string]float64 `json:"seconds"`
	ReadBytes    uint64             `json:"read_bytes"`
	WrittenBytes uint64             `json:"written_bytes"`
	// CheckConditions counts commands that ended in CHECK CONDITION.
	CheckConditions uint64 `json:"check_conditions"`
	// Sanitize is a running SANITIZE's progress, 0 to 1.
	Sanitize *float64 `json:"sanitize,omitempty"`
}
