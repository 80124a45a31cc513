package config

import (
	"fmt"
	"time"

	"github.com/halun/halun/internal/identity"
)

// Config is a validated halun node configuration. Every value has been
// checked and every default filled in, except volume serials left unset,
// which EnsureSerials fills.
type Config struct {
	// Source is the name the config was parsed from (file path, or
	// "embedded default").
	Source       string
	Node         Node
	PortalGroups []PortalGroup
	Volumes      []Volume
	Targets      []Target
	// Discovery configures discovery sessions (SendTargets).
	Discovery Discovery
	// Cluster, if set, makes this node a storage node of a cluster
	// (cluster.go).
	Cluster *Cluster
}

// Pos locates a config entry in its source, for messages about it that
// arise after parsing (e.g. a volume file that cannot be opened).
type Pos struct {
	File  string
	Line  int
	Field string // e.g. "volumes[2]"
}

func (p Pos) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Field)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Field)
}

// Node is this daemon's own settings.
type Node struct {
	// Name identifies the node; optional until clustering arrives.
	Name string
	// DataDir holds halun's state (generated serials, and file volumes
	// whose path is relative). Relative to the working directory if not
	// absolute. Default DefaultDataDir.
	DataDir string
	// NopInInterval is how long a connection may be idle before the
	// target pings the initiator with a NOP-In; NopInTimeout how long it
	// then waits for any PDU before dropping the connection. Defaults
	// DefaultNopInInterval and DefaultNopInTimeout.
	NopInInterval, NopInTimeout time.Duration
	// ShutdownLogoutWait is how long a shutdown gives initiators to log
	// out after asking them to; sessions still there are then closed.
	// Default DefaultShutdownLogoutWait.
	ShutdownLogoutWait time.Duration
	// MaxConnections bounds the node's TCP connections on every portal,
	// those still logging in included; MaxConnectionsPerAddress bounds
	// those from one initiator IP address. Extra connections are closed
	// as they are accepted. Defaults DefaultMaxConnections and
	// DefaultMaxConnectionsPerAddress.
	MaxConnections, MaxConnectionsPerAddress int
	// MaxBufferedData bounds the bytes of command data the node holds in
	// memory at once over all sessions (write data being received, read
	// data being sent); MaxSessionBufferedData bounds one session's.
	// Commands beyond them wait. Defaults DefaultMaxBufferedData and
	// DefaultMaxSessionBufferedData.
	MaxBufferedData, MaxSessionBufferedData int64
}

// Keepalive defaults: a dead initiator is noticed within 40 s.
const (
	DefaultNopInInterval = 10 * time.Second
	DefaultNopInTimeout  = 30 * time.Second
)

// DefaultShutdownLogoutWait is node.shutdown_logout_wait's default.
const DefaultShutdownLogoutWait = 5 * time.Second

// Resource limit defaults (README, "Resource limits"). A session's data
// limit must hold the largest command, MaxTransferLength.
const (
	DefaultMaxConnections           = 4096
	DefaultMaxConnectionsPerAddress = 256
	DefaultMaxBufferedData          = 1 << 30
	DefaultMaxSessionBufferedData   = 128 << 20
	// MaxTransferLength is the largest data transfer of one command the
	// iSCSI layer accepts (READ and WRITE are held to 8 MiB further up,
	// by the Block Limits VPD page).
	MaxTransferLength = 64 << 20
)

// PortalGroup is an iSCSI target portal group: the network portals a target
// is reachable on, identified by its portal group tag (TPGT).
type PortalGroup struct {
	Pos     Pos
	Tag     uint16 // 1..65535
	Portals []Portal
	// ALUA is the group's state as a target port group (alua.go).
	ALUA GroupALUA
}

// Portal is one listening address.
type Portal struct {
	// Host is an IP address literal (IPv6 without brackets, possibly with
	// a zone), a host name, or empty for every address.
	Host string
	Port uint16
}

// String is host:port with IPv6 in brackets, e.g. "[::1]:3260", as
// net.Listen and SendTargets' TargetAddress want it.
func (p Portal) String() string { return joinHostPort(p.Host, p.Port) }

// BackendKind is a volume's block store type.
type BackendKind string

const (
	BackendFile   BackendKind = "file"   // a regular file, sparse when thin
	BackendBlock  BackendKind = "block"  // a block device; size from the device
	BackendMemory BackendKind = "memory" // RAM; contents lost at exit
)

// Volume is a block store that targets export as logical units. Its SCSI
// identity (INQUIRY, VPD 0x80, 0x83) is Identity resolved with Serial.
type Volume struct {
	Pos     Pos
	Name    string
	Backend BackendKind
	// Path is the file or device; relative file paths in the config are
	// already joined to Node.DataDir here. Empty for memory volumes.
	Path string
	// Size in bytes, a multiple of BlockSize. 0 for block volumes: the
	// device's size.
	Size      int64
	BlockSize int // 512 or 4096
	// PhysicalBlockSize is the physical block size reported to initiators
	// (512e volumes: 4096); 0 means BlockSize.
	PhysicalBlockSize int
	// Serial is the unit serial number: 1..64 printable ASCII characters
	// without spaces. Empty if the config leaves it unset and EnsureSerials
	// has not run yet.
	Serial string
	// Identity is how the volume's SCSI identity is computed: halun's
	// style unless the config's identity: says otherwise (a volume moved
	// from LIO, SCST, IET or tgt). Its Serial is unset: IdentitySpec fills
	// it from Serial. The old product_id key sets Identity.Product.
	Identity identity.Spec
	// Thin: the store may be sparse and honours UNMAP (file: created sparse,
	// holes punched; block: discard). Default true for file and memory,
	// false for block.
	Thin      bool
	ReadOnly  bool
	Removable bool
	// WriteCache false (the default) is write-through: a write is durable
	// before its status is sent. True acknowledges writes once in the page
	// cache; SYNCHRONIZE CACHE and FUA still force durability.
	WriteCache bool
	// SanitizeRate bounds SANITIZE OVERWRITE to this many bytes per
	// second; 0 means halun's default (scsi.DefaultSanitizeRate).
	SanitizeRate int64
	// Replicas are the storage nodes holding the volume in a cluster
	// (every storage node unless the config lists them); nil without a
	// cluster section.
	Replicas []string
}

// Blocks is the volume's capacity in logical blocks (0 for block volumes,
// whose size is known only once the device is open).
func (v *Volume) Blocks() int64 { return v.Size / int64(v.BlockSize) }

// Target is an iSCSI target node: a name, the portal groups it is reachable
// through, its LUN map and who may log in.
type Target struct {
	Pos Pos
	// IQN is the target's iSCSI name (iqn., eui. or naa. format),
	// normalised to lower case.
	IQN   string
	Alias string // TargetAlias; optional
	// PortalGroups lists the tags of the portal groups the target is
	// reachable through; every portal group if the config omits it.
	PortalGroups []uint16
	LUNs         []LUN
	Access       Access
	// CHAP, if set, is required of every initiator logging in to the
	// target, except those whose access entry has its own.
	CHAP   *CHAP
	Params Params
	// ALUA says whether initiators may set the portal groups' ALUA states
	// (alua.go).
	ALUA TargetALUA
}

// LUN maps a logical unit number to a volume.
type LUN struct {
	LUN    uint16 // 0..16383
	Volume string // a Volume's Name
}

// Access says which initiators may log in to a target: every one (All), or
// only those listed in Initiators, each by name with its own LUN map and
// CHAP credentials. Exactly one of the two is set in a valid config.
type Access struct {
	// All lets every initiator log in and see every LUN. Explicit opt-in:
	// the config must say all: true.
	All bool
	// Initiators are the initiators allowed in, keyed by normalised name.
	Initiators []InitiatorAccess
}

// Volume returns the volume named name, or nil.
func (c *Config) Volume(name string) *Volume {
	for i := range c.Volumes {
		if c.Volumes[i].Name == name {
			return &c.Volumes[i]
		}
	}
	return nil
}

// PortalGroup returns the portal group with tag, or nil.
func (c *Config) PortalGroup(tag uint16) *PortalGroup {
	for i := range c.PortalGroups {
		if c.PortalGroups[i].Tag == tag {
			return &c.PortalGroups[i]
		}
	}
	return nil
}

// Target returns the target with the given iSCSI name (compared after
// normalisation), or nil.
func (c *Config) Target(name string) *Target {
	n, err := NormalizeName(name)
	if err != nil {
		return nil
	}
	for i := range c.Targets {
		if c.Targets[i].IQN == n {
			return &c.Targets[i]
		}
	}
	return nil
}
