package login

import (
	"testing"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// BenchmarkLoginOperationalToFFP measures one whole libiscsi-style login
// (operational stage straight to full feature phase with every key).
func BenchmarkLoginOperationalToFFP(b *testing.B) {
	data := text("InitiatorName="+iqnInit, "TargetName="+iqnTarget, "SessionType=Normal",
		"HeaderDigest=None,CRC32C", "DataDigest=None", "InitialR2T=Yes", "ImmediateData=Yes",
		"MaxBurstLength=262144", "FirstBurstLength=262144", "MaxRecvDataSegmentLength=262144",
		"DataPDUInOrder=Yes", "DefaultTime2Wait=2", "DefaultTime2Retain=0", "IFMarker=No",
		"OFMarker=No", "ErrorRecoveryLevel=0", "DataSequenceInOrder=Yes", "MaxConnections=1",
		"MaxOutstandingR2T=1")
	env := newEnv()
	req := pdu.LoginReq{Transit: true, CSG: StageOperational, NSG: StageFullFeature,
		ISID: pdu.ISID{0x80, 1, 2, 3, 4, 5}, ITT: 1, CID: 1, CmdSN: 1}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		env.admitted = env.admitted[:0]
		n := New(Config{PortalGroupTag: tpgt, Env: env})
		r := n.Step(&req, data)
		if !r.Done {
			b.Fatalf("login not done: %s", r.Reason)
		}
	}
}
