package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/halun/halun/internal/cluster"
	"github.com/halun/halun/internal/iscsi"
	"github.com/halun/halun/internal/scsi"
	"github.com/halun/halun/internal/server"
)

// collector is an unchecked prometheus.Collector over the serving node
// (its volumes, iSCSI server and reloads; none until Attach) and, on a
// cluster node, its replication state.
type collector struct {
	node    atomic.Pointer[server.Node]
	cluster func() []cluster.VolumeMetrics
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("halun_"+name, help, labels, nil)
}

var (
	volCommands = desc("volume_commands_total", "SCSI commands executed on the volume, by class (read, write, unmap, write_same, sync, other).", "volume", "class")
	volLatency  = desc("volume_command_duration_seconds", "Time from a command's execution start to its result, by class.", "volume", "class")
	volRead     = desc("volume_read_bytes_total", "Bytes read from the volume by initiators.", "volume")
	volWritten  = desc("volume_written_bytes_total", "Bytes of data-out written to the volume by WRITE-class commands.", "volume")
	volErrors   = desc("volume_check_conditions_total", "Commands that ended in CHECK CONDITION, by sense key.", "volume", "sense_key")
	volSize     = desc("volume_size_bytes", "The volume's capacity.", "volume")
	volAlloc    = desc("volume_allocated_bytes", "Backing space the volume holds (a thin volume's allocation).", "volume")

	sessions       = desc("iscsi_sessions", "Sessions logged in now.", "target", "initiator", "type")
	logins         = desc("iscsi_logins_total", "Successful logins, by target (empty for discovery sessions).", "target", "type")
	loginFailures  = desc("iscsi_login_failures_total", "Refused logins, by reason.", "reason")
	tmf            = desc("iscsi_task_management_total", "Task management requests, by function.", "function")
	connections    = desc("iscsi_connections", "Open connections, by the portal address they reached.", "portal")
	waitingForData = desc("iscsi_writes_waiting_for_data", "Write commands waiting for their data-out (the R2T backlog).")
	buffered       = desc("iscsi_buffered_data_bytes", "Data-out bytes buffered for commands, against iscsi_buffered_data_limit_bytes.")
	bufferLimit    = desc("iscsi_buffered_data_limit_bytes", "The limit on buffered data-out (node.max_buffered_data).")
	taskSetFull    = desc("iscsi_task_set_full_total", "Writes answered TASK SET FULL for want of buffer room.")

	reloads = desc("config_reloads_total", "Config reloads (SIGHUP, halun reload), by result (applied or refused).", "result")

	replPrimary    = desc("replication_primary", "1 while this node is the volume's primary.", "volume")
	replEpoch      = desc("replication_epoch", "The volume's epoch this node serves or last took.", "volume")
	replInSync     = desc("replication_replica_in_sync", "1 while the replica receives every write before it is acknowledged (reported by the primary).", "volume", "replica")
	replDirty      = desc("replication_replica_dirty_bytes", "Bytes the replica lacks: how far it lags (reported by the primary).", "volume", "replica")
	replResyncing  = desc("replication_replica_resyncing", "1 while the replica is being resynced (reported by the primary).", "volume", "replica")
	replResynced   = desc("replication_resynced_bytes_total", "Bytes this node copied to resyncing replicas as primary.", "volume")
	replPromotions = desc("replication_promotions_total", "Times this node became the volume's primary.", "volume")
)

// senseKeyNames label CHECK CONDITIONs (SPC-4 table 48).
var senseKeyNames = [16]string{"no_sense", "recovered_error", "not_ready", "medium_error", "hardware_error",
	"illegal_request", "unit_attention", "data_protect", "blank_check", "vendor_specific", "copy_aborted",
	"aborted_command", "reserved_0c", "volume_overflow", "miscompare", "completed"}

// Describe sends nothing: the collector is unchecked, its series follow
// the configuration.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

// Collect reads every source once.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	n := c.node.Load()
	if n == nil {
		return
	}
	for _, v := range n.VolumeStats() {
		c.volume(ch, v)
	}
	c.iscsi(ch, n.Server)
	ok, failed := n.Reloads()
	ch <- prometheus.MustNewConstMetric(reloads, prometheus.CounterValue, float64(ok), "applied")
	ch <- prometheus.MustNewConstMetric(reloads, prometheus.CounterValue, float64(failed), "refused")
	if c.cluster != nil {
		for _, v := range c.cluster() {
			c.replication(ch, v)
		}
	}
}

func (c *collector) volume(ch chan<- prometheus.Metric, v server.VolumeStat) {
	counter := func(d *prometheus.Desc, x uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(x), labels...)
	}
	for cl := range scsi.NumStatClasses {
		s := v.Stats.Class[cl]
		class := cl.String()
		counter(volCommands, s.Commands, v.Name, class)
		buckets := make(map[float64]uint64, len(s.Buckets))
		for i, b := range s.Buckets {
			buckets[scsi.LatencyBuckets[i].Seconds()] = b
		}
		ch <- prometheus.MustNewConstHistogram(volLatency, s.Commands, s.Seconds, buckets, v.Name, class)
	}
	counter(volRead, v.Stats.Class[scsi.StatRead].Bytes, v.Name)
	counter(volWritten, v.Stats.Class[scsi.StatWrite].Bytes, v.Name)
	for k, x := range v.Stats.SenseKeys {
		if x > 0 {
			counter(volErrors, x, v.Name, senseKeyNames[k])
		}
	}
	ch <- prometheus.MustNewConstMetric(volSize, prometheus.GaugeValue, float64(v.Size), v.Name)
	if v.Allocated >= 0 {
		ch <- prometheus.MustNewConstMetric(volAlloc, prometheus.GaugeValue, float64(v.Allocated), v.Name)
	}
}

type sessionKey struct{ target, initiator, typ string }

func (c *collector) iscsi(ch chan<- prometheus.Metric, s *iscsi.Server) {
	count := map[sessionKey]int{}
	for _, si := range s.Sessions() {
		typ := "normal"
		if si.Discovery {
			typ = "discovery"
		}
		count[sessionKey{si.Target, si.Initiator, typ}]++
	}
	for k, x := range count {
		ch <- prometheus.MustNewConstMetric(sessions, prometheus.GaugeValue, float64(x), k.target, k.initiator, k.typ)
	}
	ev := s.Events()
	for k, x := range ev.Logins {
		ch <- prometheus.MustNewConstMetric(logins, prometheus.CounterValue, float64(x), k.Target, k.Type)
	}
	for _, r := range []string{iscsi.FailAuthentication, iscsi.FailAuthorization, iscsi.FailNoSuchTarget,
		iscsi.FailInitiatorError, iscsi.FailTargetError, iscsi.FailOther} {
		ch <- prometheus.MustNewConstMetric(loginFailures, prometheus.CounterValue, float64(ev.LoginFailures[r]), r)
	}
	for f, name := range iscsi.TMFNames {
		ch <- prometheus.MustNewConstMetric(tmf, prometheus.CounterValue, float64(ev.TaskManagement[f]), name)
	}
	conns, waiting := s.PortalConns()
	for _, pa := range s.Addrs() {
		if _, ok := conns[pa.Addr]; !ok {
			conns[pa.Addr] = 0
		}
	}
	for p, x := range conns {
		ch <- prometheus.MustNewConstMetric(connections, prometheus.GaugeValue, float64(x), p)
	}
	ch <- prometheus.MustNewConstMetric(waitingForData, prometheus.GaugeValue, float64(waiting))
	bs := s.BufferStats()
	ch <- prometheus.MustNewConstMetric(buffered, prometheus.GaugeValue, float64(bs.Used))
	ch <- prometheus.MustNewConstMetric(bufferLimit, prometheus.GaugeValue, float64(bs.Limit))
	ch <- prometheus.MustNewConstMetric(taskSetFull, prometheus.CounterValue, float64(bs.TaskSetFull))
}

func (c *collector) replication(ch chan<- prometheus.Metric, v cluster.VolumeMetrics) {
	gauge := func(d *prometheus.Desc, x float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, x, labels...)
	}
	gauge(replPrimary, b2f(v.Primary), v.Volume)
	gauge(replEpoch, float64(v.Epoch), v.Volume)
	for _, r := range v.Replicas {
		gauge(replInSync, b2f(r.InSync), v.Volume, r.Node)
		gauge(replDirty, float64(r.DirtyBytes), v.Volume, r.Node)
		gauge(replResyncing, b2f(r.Resyncing), v.Volume, r.Node)
	}
	ch <- prometheus.MustNewConstMetric(replResynced, prometheus.CounterValue, float64(v.ResyncedBytes), v.Volume)
	ch <- prometheus.MustNewConstMetric(replPromotions, prometheus.CounterValue, float64(v.Promotions), v.Volume)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
