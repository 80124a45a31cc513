package integration

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/halun/halun/internal/identity"
	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
)

// TestPortalsTwoGroupsIPv4IPv6: several portals per group (IPv4 and IPv6),
// several groups per target. SendTargets lists every portal of a target's
// groups with its TPGT, through any portal; logins report the group of the
// portal they came through; a target is not served on a group it lacks.
func TestPortalsTwoGroupsIPv4IPv6(t *testing.T) {
	g1v4, g1v6, g2v4 := freeAddr(t, "127.0.0.1"), freeAddr(t, "::1"), freeAddr(t, "127.0.0.1")
	const both, second = "iqn.2026-11.io.halun.test:both", "iqn.2026-11.io.halun.test:second"
	startConfig(t, fmt.Sprintf(`portal_groups:
  - {tag: 1, portals: [%q, %q]}
  - {tag: 2, portals: [%q]}
volumes:
  - {name: v1, backend: memory, size: 4MiB, serial: portal-v1}
targets:
  - iqn: %s
    luns: [{lun: 0, volume: v1}]
    access: {all: true}
  - iqn: %s
    portal_groups: [2]
    luns: [{lun: 0, volume: v1}]
    access: {all: true}
`, g1v4, g1v6, g2v4, both, second))
	want := map[string][]initiator.Portal{
		both:   {{Addr: g1v4, TPGT: 1}, {Addr: g1v6, TPGT: 1}, {Addr: g2v4, TPGT: 2}},
		second: {{Addr: g2v4, TPGT: 2}},
	}
	for _, via := range []string{g1v4, g1v6, g2v4} {
		got, err := initiator.Discover(ctxT(t), via, iqnA)
		if err != nil {
			t.Fatalf("discovery via %s: %v", via, err)
		}
		if !slices.Equal(names(got), []string{both, second}) {
			t.Fatalf("via %s: %v", via, names(got))
		}
		for _, d := range got {
			ps := slices.Clone(d.Portals)
			slices.SortFunc(ps, func(a, b initiator.Portal) int {
				return strings.Compare(fmt.Sprint(a.TPGT, a.Addr), fmt.Sprint(b.TPGT, b.Addr))
			})
			w := slices.Clone(want[d.Name])
			slices.SortFunc(w, func(a, b initiator.Portal) int {
				return strings.Compare(fmt.Sprint(a.TPGT, a.Addr), fmt.Sprint(b.TPGT, b.Addr))
			})
			if !slices.Equal(ps, w) {
				t.Errorf("via %s: %s at %v, want %v", via, d.Name, ps, w)
			}
		}
	}
	for _, tc := range []struct {
		addr, target string
		tpgt         uint16
	}{{g1v4, both, 1}, {g1v6, both, 1}, {g2v4, both, 2}, {g2v4, second, 2}} {
		s, err := initiator.Dial(ctxT(t), tc.addr, initiator.Options{InitiatorName: iqnA, TargetName: tc.target})
		if err != nil {
			t.Fatalf("login to %s via %s: %v", tc.target, tc.addr, err)
		}
		if got := s.Negotiated().TargetPortalGroupTag; got != tc.tpgt {
			t.Errorf("login to %s via %s: TPGT %d, want %d", tc.target, tc.addr, got, tc.tpgt)
		}
		clearUnitAttention(t, s)
		// VPD 0x83's target port group designator names the same group.
		b, err := s.Inquiry(ctxT(t), 0, true, 0x83, 1024)
		if err != nil {
			t.Fatal(err)
		}
		if tpg := designatorOf(b, 0x10|0x05); len(tpg) != 4 || uint16(tpg[2])<<8|uint16(tpg[3]) != tc.tpgt {
			t.Errorf("VPD 0x83 target port group % x, want %d", tpg, tc.tpgt)
		}
		s.Close()
	}
	_, err := initiator.Dial(ctxT(t), g1v6, initiator.Options{InitiatorName: iqnA, TargetName: second})
	wantLoginStatus(t, err, 2, 3)
}

// designatorOf returns the identifier of the first VPD 0x83 designator
// whose association|type byte (without PIV) is at.
func designatorOf(page []byte, at byte) []byte {
	if len(page) < 4 {
		return nil
	}
	b := page[4:]
	for len(b) >= 4 {
		n := int(b[3])
		if 4+n > len(b) {
			return nil
		}
		if b[1]&0x3f == at {
			return b[4 : 4+n]
		}
		b = b[4+n:]
	}
	return nil
}

// luDesignators returns the logical-unit designators (association 0) of a
// VPD 0x83 page, in order, as raw descriptors.
func luDesignators(page []byte) []byte {
	var out []byte
	b := page[4:]
	for len(b) >= 4 {
		n := int(b[3])
		if 4+n > len(b) {
			break
		}
		if b[1]&0x30 == 0 {
			out = append(out, b[:4+n]...)
		}
		b = b[4+n:]
	}
	return out
}

// TestIdentityTwoNodes: two independent servers configured with the same
// volume answer byte-identical logical-unit designators in VPD 0x83 and the
// same VPD 0x80 and INQUIRY identity, whatever their targets, portals and
// start order; WWID is what scsi_id would print for them.
func TestIdentityTwoNodes(t *testing.T) {
	volume := `  - {name: data, backend: memory, size: 4MiB, serial: 3c1e6f2a-8d4b-4e7a-9f10-2b3c4d5e6f70, product_id: "vault disk"}
  - {name: other, backend: memory, size: 4MiB, serial: "633c5643", identity: {style: lio}}`
	node := func(tag int, target, order string) string {
		addr := freeAddr(t, "127.0.0.1")
		vols := volume
		if order == "reversed" {
			lines := strings.Split(volume, "\n")
			vols = lines[1] + "\n" + lines[0]
		}
		startConfig(t, fmt.Sprintf(`portal_groups:
  - {tag: %d, portals: [%q]}
volumes:
%s
targets:
  - iqn: %s
    luns: [{lun: 7, volume: data}, {lun: 0, volume: other}]
    access: {all: true}
`, tag, addr, vols, target))
		return addr
	}
	addr1 := node(1, "iqn.2026-11.io.halun.test:node1", "")
	addr2 := node(9, "iqn.2026-11.io.halun.test:node2", "reversed")
	var pages, moved [2][]byte
	var serials, inqs [2]string
	for i, a := range []struct{ addr, target string }{{addr1, "iqn.2026-11.io.halun.test:node1"}, {addr2, "iqn.2026-11.io.halun.test:node2"}} {
		s, err := initiator.Dial(ctxT(t), a.addr, initiator.Options{InitiatorName: iqnA, TargetName: a.target, ISID: pdu.ISID{0x80, byte(i), 0, 0, 0, 1}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if pages[i], err = s.Inquiry(ctxT(t), 7, true, 0x83, 1024); err != nil {
			t.Fatal(err)
		}
		if moved[i], err = s.Inquiry(ctxT(t), 0, true, 0x83, 1024); err != nil {
			t.Fatal(err)
		}
		serials[i] = serialOf(t, s, 7)
		std, err := s.Inquiry(ctxT(t), 7, false, 0, 96)
		if err != nil {
			t.Fatal(err)
		}
		inqs[i] = string(std[8:32])
	}
	lu1, lu2 := luDesignators(pages[0]), luDesignators(pages[1])
	if len(lu1) == 0 || !bytes.Equal(lu1, lu2) {
		t.Fatalf("logical-unit designators differ:\n% x\n% x", lu1, lu2)
	}
	// A volume moved from LIO: the same LIO bytes on both nodes.
	if m1, m2 := luDesignators(moved[0]), luDesignators(moved[1]); len(m1) == 0 || !bytes.Equal(m1, m2) ||
		!bytes.HasPrefix(m1, []byte{0x01, 0x03, 0x00, 0x10, 0x60, 0x01, 0x40, 0x56, 0x33, 0xc5, 0x64, 0x30}) {
		t.Errorf("style lio designators differ between nodes or from LIO's:\n% x\n% x", m1, m2)
	}
	if bytes.Equal(pages[0], pages[1]) {
		t.Error("whole pages equal: the target port designators should name each node's own target and group")
	}
	if serials[0] != serials[1] || serials[0] != "3c1e6f2a-8d4b-4e7a-9f10-2b3c4d5e6f70" {
		t.Errorf("VPD 0x80 %q / %q", serials[0], serials[1])
	}
	if inqs[0] != inqs[1] || inqs[0] != "HALUN   vault disk      " {
		t.Errorf("INQUIRY vendor/product %q / %q", inqs[0], inqs[1])
	}
	naa := designatorOf(pages[0], 0x03)
	id, err := identity.Resolve(identity.Spec{Serial: "3c1e6f2a-8d4b-4e7a-9f10-2b3c4d5e6f70", Product: "vault disk"})
	if err != nil {
		t.Fatal(err)
	}
	want := id.WWID()
	if got := fmt.Sprintf("3%x", naa); got != want || !strings.HasPrefix(want, "36001405") {
		t.Errorf("VPD 0x83 NAA as scsi_id prints it: %s; scsi.WWID: %s", got, want)
	}
}
