package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/halun/halun/internal/atomicfile"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/config/importer"
)

// maxImportSize bounds an input file; real ones are a few kilobytes.
const maxImportSize = 16 << 20

func newImportCmd() *cobra.Command {
	var format, dataDir, out, allow, deny, scstVersion string
	cmd := &cobra.Command{
		Use:   "import [--format ietd|scst|targetcli|tgt|tgtadm|pacemaker] [--data-dir DIR] FILE [-o OUT]",
		Short: "Convert an ietd.conf, scst.conf, targetcli saveconfig.json, tgt config or Pacemaker iSCSI resources to a halun config",
		Long: `Convert the config of another Linux iSCSI target to a halun config, keeping
the disks' SCSI identity byte for byte: each volume gets the identity style
of the target it comes from (identity: style lio, scst, iet or tgt) with the
inputs that target computed its INQUIRY and VPD pages from, so initiators,
dm-multipath and XenServer see the same disk. The report on stderr gives,
with file:line, everything it cannot carry or carries differently. Lines
marked REVIEW need a decision or an edit before the config is served.

The format is detected from the content unless --format says it. The YAML
goes to stdout, or to OUT (written atomically). For IET, give the
initiators.allow and initiators.deny files with --iet-allow and --iet-deny.
For tgt, --format tgt reads targets.conf (tids and LUNs computed as
tgt-admin assigns them) and --format tgtadm reads the output of
` + "`tgtadm --lld iscsi --op show --mode target`" + `, which has the live tids,
LUNs, scsi_id and scsi_sn and is preferred.

For a Pacemaker cluster, give the output of "crm configure show" or the CIB
XML ("cibadmin -Q", "pcs cluster cib"): each iSCSITarget becomes a target,
each iSCSILogicalUnit a volume whose identity is the one the resource agent
set for its implementation parameter (the defaults of scsi_id and scsi_sn
computed from the resource id as the agent does).
Exit status: 0 when converted (even with findings), 1 when the input cannot
be read as its format.`,
		Args: argsUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := importer.Options{DataDir: dataDir, SCSTVersion: scstVersion}
			if format != "" {
				f, err := importer.ParseFormat(format)
				if err != nil {
					return usageError{err}
				}
				o.Format = f
			}
			data, err := readImportFile(args[0])
			if err != nil {
				return err
			}
			if allow != "" {
				if o.IETAllow, err = readImportFile(allow); err != nil {
					return err
				}
				o.IETAllowName = allow
			}
			if deny != "" {
				if o.IETDeny, err = readImportFile(deny); err != nil {
					return err
				}
				o.IETDenyName = deny
			}
			res, err := importer.Convert(args[0], data, o)
			if err != nil {
				var es importer.Errors
				if errors.As(err, &es) {
					for _, e := range es {
						fmt.Fprintln(cmd.ErrOrStderr(), e)
					}
					return silentError{exitError}
				}
				return err
			}
			if out == "" || out == "-" {
				if _, err := cmd.OutOrStdout().Write(res.YAML); err != nil {
					return fmt.Errorf("writing the config: %w", err)
				}
			} else if err := atomicfile.Write(out, res.YAML, 0o600); err != nil {
				return fmt.Errorf("import: %w", err)
			}
			if err := importer.WriteReport(cmd.ErrOrStderr(), res.Findings); err != nil {
				return err
			}
			if out != "" && out != "-" {
				fmt.Fprintf(cmd.ErrOrStderr(), "import: wrote %s (%s); check it with: halun config check %s\n", out, res.Format, out)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "input format: ietd, scst, targetcli, tgt, tgtadm or pacemaker (default: detect)")
	cmd.Flags().StringVar(&dataDir, "data-dir", config.DefaultDataDir, "node.data_dir of the new config")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the config to this file (atomically) instead of stdout")
	cmd.Flags().StringVar(&allow, "iet-allow", "", "IET initiators.allow to import with ietd.conf")
	cmd.Flags().StringVar(&deny, "iet-deny", "", "IET initiators.deny to import with ietd.conf")
	cmd.Flags().StringVar(&scstVersion, "scst-version", "", "SCST `release` the scst.conf is from (e.g. 3.6): the INQUIRY revision its devices reported")
	return cmd
}

func readImportFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxImportSize+1))
	if err != nil {
		return nil, fmt.Errorf("import: reading %s: %w", path, err)
	}
	if len(data) > maxImportSize {
		return nil, fmt.Errorf("import: %s is larger than %d bytes; not a target config", path, maxImportSize)
	}
	return data, nil
}
