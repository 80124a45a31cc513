package ha

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
)

// The load: workers read and write whole blocks of a few registers, each
// write a value no other write uses (the block holds it repeated), and
// log every operation with its call and return times. It runs as its own
// process in the initiator host's namespace: the test binary again, with
// loadEnv set to its spec.
const loadEnv = "HALUN_HA_LOAD"

// Block geometry: registers of blockBytes, spread over the volume so they
// fall in different dirty-bitmap grains.
const (
	sectorSize = 512
	blockBytes = 4096
)

// loadSpec is what the load process is told.
type loadSpec struct {
	Portals []string `json:"portals"`
	Target  string   `json:"target"`
	Workers int      `json:"workers"`
	Blocks  int      `json:"blocks"`
	// Stride is the distance between registers in sectors.
	Stride uint64 `json:"stride"`
	// Out receives the operations, one JSON object per line.
	Out string `json:"out"`
	// AttemptTimeout bounds one try on one path (the initiator's
	// NOP-Out timeout).
	AttemptTimeout time.Duration `json:"attempt_timeout"`
	// OpTimeout bounds one operation, its retries included.
	OpTimeout time.Duration `json:"op_timeout"`
	// Trial goes into every value written, so no two trials write the
	// same value.
	Trial uint64 `json:"trial"`
	// Prefill, before the load, writes the whole volume with seeded
	// random bytes and every register with zero: a replica that missed
	// any of it (a wiped disk resynced by bitmap only) then differs.
	Prefill bool `json:"prefill"`
	// VolumeBytes is the volume's size, for Prefill.
	VolumeBytes int64 `json:"volume_bytes"`
}

// op is one operation of the history. Times are Unix nanoseconds; an
// operation that failed has OK false (a write's effect is then unknown).
type op struct {
	Client int    `json:"c"`
	Write  bool   `json:"w,omitempty"`
	Block  int    `json:"b"`
	Value  uint64 `json:"v"`
	Call   int64  `json:"call"`
	Ret    int64  `json:"ret"`
	OK     bool   `json:"ok,omitempty"`
	Torn   bool   `json:"torn,omitempty"`
	Final  bool   `json:"final,omitempty"`
	Err    string `json:"err,omitempty"`
}

// fill is a block holding value v.
func fill(v uint64) []byte {
	b := make([]byte, blockBytes)
	for i := 0; i < blockBytes; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], v)
	}
	return b
}

// decode is the value a block holds, torn if its words disagree.
func decode(b []byte) (v uint64, torn bool) {
	if len(b) < blockBytes {
		return 0, true
	}
	v = binary.LittleEndian.Uint64(b)
	for i := 8; i < blockBytes; i += 8 {
		if binary.LittleEndian.Uint64(b[i:]) != v {
			return v, true
		}
	}
	return v, false
}

// runLoad is the load process's main: it runs until SIGTERM, then reads
// every block once more (the final reads) and exits.
func runLoad(specJSON string) int {
	var spec loadSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "load: bad spec:", err)
		return 2
	}
	f, err := os.Create(spec.Out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		return 2
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	var wmu sync.Mutex
	record := func(o op) {
		b, _ := json.Marshal(o)
		wmu.Lock()
		w.Write(append(b, '\n'))
		wmu.Unlock()
	}

	opts := initiator.Options{InitiatorName: "iqn.2026-12.io.halun.test:ha-host", TargetName: spec.Target, ISID: pdu.ISID{0x80, 0, 0, 0, 0, 7}}
	var paths []initiator.PathSpec
	for _, p := range spec.Portals {
		paths = append(paths, initiator.PathSpec{Addr: p, Options: opts})
	}
	mp := initiator.NewMultipath(paths...)
	mp.AttemptTimeout = spec.AttemptTimeout
	defer mp.Close()

	stop, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	lba := func(block int) uint64 { return uint64(block) * spec.Stride }
	do := func(client int, write bool, block int, value uint64, final bool) {
		ctx, cancel := context.WithTimeout(context.Background(), spec.OpTimeout)
		defer cancel()
		o := op{Client: client, Write: write, Block: block, Value: value, Final: final, Call: time.Now().UnixNano()}
		var err error
		if write {
			err = mp.Write(ctx, lba(block), fill(value), sectorSize)
		} else {
			var b []byte
			b, err = mp.Read(ctx, lba(block), blockBytes/sectorSize, sectorSize)
			if err == nil {
				o.Value, o.Torn = decode(b)
			}
		}
		o.Ret = time.Now().UnixNano()
		o.OK = err == nil
		if err != nil {
			o.Err = err.Error()
		}
		record(o)
	}

	if spec.Prefill {
		if err := prefill(mp, &spec); err != nil {
			fmt.Fprintln(os.Stderr, "load: prefill:", err)
			return 1
		}
	}
	var wg sync.WaitGroup
	for c := range spec.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), uint64(time.Now().UnixNano())))
			var seq uint64
			for stop.Err() == nil {
				block := r.IntN(spec.Blocks)
				if r.IntN(2) == 0 {
					seq++
					do(c, true, block, spec.Trial<<48|uint64(c+1)<<40|seq, false)
				} else {
					do(c, false, block, 0, false)
				}
				time.Sleep(time.Duration(r.IntN(3000)) * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	for b := range spec.Blocks {
		do(spec.Workers, false, b, 0, true)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		return 1
	}
	return 0
}

// prefill writes the volume with seeded random data in 1 MiB writes, then
// every register block with zero (the registers' initial value).
func prefill(mp *initiator.Multipath, spec *loadSpec) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1<<20)
	for off := int64(0); off < spec.VolumeBytes; off += int64(len(buf)) {
		for i := 0; i < len(buf); i += 8 {
			binary.LittleEndian.PutUint64(buf[i:], r.Uint64())
		}
		if err := mp.Write(ctx, uint64(off/sectorSize), buf, sectorSize); err != nil {
			return err
		}
	}
	for b := range spec.Blocks {
		if err := mp.Write(ctx, uint64(b)*spec.Stride, fill(0), sectorSize); err != nil {
			return err
		}
	}
	return nil
}
