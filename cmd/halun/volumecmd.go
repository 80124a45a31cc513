package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/config"
)

func newVolumeCmd() *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List volumes with size, serial, identity style and WWID (as scsi_id and XenServer name the disk)",
		Args:  argsUsage(cobra.NoArgs),
	}
	asJSON := jsonFlag(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		vs, err := client(cmd).Volumes(ctxOf(cmd))
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(cmd.OutOrStdout(), vs)
		}
		tw := table(cmd.OutOrStdout())
		fmt.Fprintln(tw, "NAME\tBACKEND\tSIZE\tBLOCK\tSERIAL\tSTYLE\tWWID\tMAPPED BY")
		for _, v := range vs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", v.Name, v.Backend, config.FormatSize(v.Size), v.BlockSize,
				v.Serial, orDash(v.Style), orDash(v.WWID), orDash(strings.Join(v.MappedBy, ", ")))
		}
		return tw.Flush()
	}

	var va admin.VolumeAdd
	var thin bool
	add := changeCmd("add NAME --backend file|block|memory [--path P] [--size S]", "Add a volume",
		cobra.ExactArgs(1), func(cmd *cobra.Command, c *admin.Client, args []string) (*admin.Result, error) {
			va.Name = args[0]
			if cmd.Flags().Changed("thin") {
				va.Thin = &thin
			}
			if va.Backend == "" {
				return nil, usageError{fmt.Errorf("volume add: --backend is required")}
			}
			return c.AddVolume(ctxOf(cmd), va)
		})
	add.Long = `Add a volume to the config and open it. It is not exported until a LUN
maps it (halun lun map). Without --serial, a serial is generated once and
kept in <data_dir>/serials.json.`
	f := add.Flags()
	f.StringVar(&va.Backend, "backend", "", "`file`, block or memory")
	f.StringVar(&va.Path, "path", "", "file (relative to data_dir) or block device `path`")
	f.StringVar(&va.Size, "size", "", "capacity, e.g. 20GiB (file and memory)")
	f.IntVar(&va.BlockSize, "block-size", 0, "logical block `size`: 512 or 4096")
	f.StringVar(&va.Serial, "serial", "", "unit `serial` (the LU's SCSI identity)")
	f.BoolVar(&thin, "thin", true, "thin provisioning (UNMAP)")
	f.BoolVar(&va.ReadOnly, "read-only", false, "refuse writes")
	f.BoolVar(&va.WriteCache, "write-cache", false, "acknowledge writes from the page cache")

	remove := changeCmd("remove NAME", "Remove a volume that no LUN maps", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *admin.Client, args []string) (*admin.Result, error) {
			return c.RemoveVolume(ctxOf(cmd), args[0])
		})
	resize := changeCmd("resize NAME SIZE", "Grow a volume; initiators get CAPACITY DATA HAS CHANGED", cobra.ExactArgs(2),
		func(cmd *cobra.Command, c *admin.Client, args []string) (*admin.Result, error) {
			if _, err := config.ParseSize(args[1]); err != nil {
				return nil, usageError{fmt.Errorf("volume resize: %v", err)}
			}
			return c.ResizeVolume(ctxOf(cmd), args[0], args[1])
		})
	return adminGroup("volume", "List, add, remove and resize volumes of the running daemon", list, add, remove, resize)
}
