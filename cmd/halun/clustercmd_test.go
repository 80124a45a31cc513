package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halun/halun/internal/cluster/pki"
)

func TestClusterInitWritesLoadableNodesAndRefusesASecondInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	code, out, errs := runArgs("cluster", "init", "--name", "c1", "--dir", dir,
		"a=127.0.0.1", "b=10.0.0.2,b.example.net", "--witness", "w=10.0.0.3")
	if code != 0 || errs != "" {
		t.Fatalf("init: exit %d, %q", code, errs)
	}
	for _, want := range []string{
		"wrote " + filepath.Join(dir, "ca.key"),
		"wrote " + filepath.Join(dir, "b") + "/{node.crt,node.key,ca.crt}: storage node b, halun://c1/storage/b, hosts 10.0.0.2, b.example.net\n",
		"witness node w, halun://c1/witness/w",
		"Next: copy " + filepath.Join(dir, "<node>") + " to each node as <data_dir>/tls",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	roles := map[string]pki.Role{"a": pki.RoleStorage, "b": pki.RoleStorage, "w": pki.RoleWitness}
	for name, role := range roles {
		id, err := pki.Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if id.Cluster != "c1" || id.Name != name || id.Role != role {
			t.Errorf("%s: loaded as %s/%s/%s", name, id.Cluster, id.Role, id.Name)
		}
	}
	caBefore, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))

	code, out, errs = runArgs("cluster", "init", "--name", "c1", "--dir", dir, "x=10.0.0.9")
	if code != 1 || out != "" || !strings.Contains(errs, filepath.Join(dir, "ca.key")+" already exists") {
		t.Errorf("second init: exit %d, %q, %q", code, out, errs)
	}
	caAfter, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if string(caBefore) != string(caAfter) {
		t.Error("second init changed the CA")
	}

	code, out, errs = runArgs("cluster", "add-node", "--name", "c1", "--dir", dir, "x=10.0.0.9")
	if code != 0 || errs != "" || !strings.Contains(out, "storage node x") || strings.Contains(out, "ca.key") {
		t.Errorf("add-node: exit %d, %q, %q", code, out, errs)
	}
	if _, err := pki.Load(filepath.Join(dir, "x")); err != nil {
		t.Error(err)
	}
	code, _, errs = runArgs("cluster", "add-node", "--name", "c1", "--dir", dir, "--witness", "a=10.0.0.1")
	if code != 1 || !strings.Contains(errs, "node a already exists") {
		t.Errorf("add-node of an existing node: exit %d, %q", code, errs)
	}
}

func TestClusterBadArgumentsExitTwoAndWriteNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	tests := []struct {
		name string
		args []string
		err  string
	}{
		{"no --name", []string{"init", "--dir", dir, "a=10.0.0.1"}, "--name is required"},
		{"no --dir", []string{"init", "--name", "c1", "a=10.0.0.1"}, "--dir is required"},
		{"no storage node", []string{"init", "--name", "c1", "--dir", dir, "--witness", "w=10.0.0.1"}, "at least one storage node"},
		{"add-node without nodes", []string{"add-node", "--name", "c1", "--dir", dir}, "no nodes given"},
		{"node without hosts", []string{"init", "--name", "c1", "--dir", dir, "a"}, `"a": want NAME=HOST[,HOST...]`},
		{"empty host list", []string{"init", "--name", "c1", "--dir", dir, "a="}, `"a=": want NAME=HOST`},
		{"no node name", []string{"init", "--name", "c1", "--dir", dir, "=10.0.0.1"}, `"=10.0.0.1": want NAME=HOST`},
		{"empty host", []string{"init", "--name", "c1", "--dir", dir, "a=10.0.0.1,,b"}, "empty host"},
		{"bad host", []string{"init", "--name", "c1", "--dir", dir, "a=10.0.0.1:3260"}, `host "10.0.0.1:3260"`},
		{"bad node name", []string{"init", "--name", "c1", "--dir", dir, "A_1=10.0.0.1"}, `node name "A_1"`},
		{"bad cluster name", []string{"init", "--name", "my cluster", "--dir", dir, "a=10.0.0.1"}, `cluster name "my cluster"`},
		{"duplicate node", []string{"init", "--name", "c1", "--dir", dir, "a=10.0.0.1", "--witness", "a=10.0.0.2"}, "node a is given twice"},
		{"bad witness", []string{"init", "--name", "c1", "--dir", dir, "a=10.0.0.1", "--witness", "w"}, `"w": want NAME=HOST`},
		{"unknown flag", []string{"init", "--name", "c1", "--dir", dir, "--force", "a=10.0.0.1"}, "unknown flag: --force"},
		{"unknown subcommand", []string{"bogus"}, `unknown command "bogus"`},
		{"status without --config", []string{"status"}, "--config is required"},
		{"drain without --config", []string{"drain", "a"}, "--config is required"},
		{"drain without a node", []string{"drain", "--config", "x.yaml"}, "accepts 1 arg"},
		{"drain with no time", []string{"drain", "--config", "x.yaml", "--timeout", "0s", "a"}, "--timeout must be positive"},
		{"discard without --config", []string{"discard", "v", "a"}, "--config is required"},
		{"discard without a node", []string{"discard", "--config", "x.yaml", "v"}, "accepts 2 arg(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runArgs(append([]string{"cluster"}, tt.args...)...)
			if code != 2 || out != "" || !strings.HasPrefix(errs, "halun: ") || !strings.Contains(errs, tt.err) {
				t.Errorf("exit %d, %q, %q; want 2 and %q", code, out, errs, tt.err)
			}
		})
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("a refused command created %s", dir)
	}
}
