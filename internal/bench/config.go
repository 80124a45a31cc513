package bench

import (
	"errors"
	"fmt"
	"time"
)

// Config is what to run. The zero value of every field but ReadPercent
// selects its default.
type Config struct {
	// Workers is the number of concurrent workers, each with one
	// command in flight; 0 means 4.
	Workers int
	// BlockSize is the size of every read and write in bytes, a
	// multiple of the logical unit's block size and of 32; 0 means 4096.
	BlockSize int
	// Size is the region used, in bytes from LBA 0; 0 means the whole
	// logical unit (READ CAPACITY(16)). It is cut to a whole number of
	// blocks, and must be within the logical unit.
	Size int64
	// ReadPercent is the share of operations that are reads, 0 to 100
	// (0: writes only).
	ReadPercent int
	// Rate is the target for all workers together, in operations per
	// second; 0 means as fast as they go.
	Rate float64
	// Duration is how long new operations are started; operations in
	// flight then finish. 0 means until the context ends.
	Duration time.Duration
	// Interval is the period of Progress calls; 0 means one second.
	Interval time.Duration
	// OpTimeout bounds one operation, the multipath's retries on every
	// path included; one that outlives it counts as failed. 0 means 60 s,
	// longer than a failover.
	OpTimeout time.Duration
	// Progress, if set, is called every Interval from Run's goroutine.
	Progress func(Tick)
}

func (c Config) withDefaults() (Config, error) {
	if c.Workers == 0 {
		c.Workers = 4
	}
	if c.BlockSize == 0 {
		c.BlockSize = 4096
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = 60 * time.Second
	}
	var errs []error
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers %d is negative", c.Workers))
	}
	if c.BlockSize < 0 || c.BlockSize%recordSize != 0 {
		errs = append(errs, fmt.Errorf("block size %d is not a positive multiple of %d bytes", c.BlockSize, recordSize))
	}
	if c.Size < 0 {
		errs = append(errs, fmt.Errorf("size %d is negative", c.Size))
	}
	if c.ReadPercent < 0 || c.ReadPercent > 100 {
		errs = append(errs, fmt.Errorf("read percent %d is not within 0-100", c.ReadPercent))
	}
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate %v is negative", c.Rate))
	}
	if c.Duration < 0 || c.Interval < 0 || c.OpTimeout < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	return c, errors.Join(errs...)
}

// Validate reports what is wrong with c, without a logical unit: the
// checks that need its capacity and block size are Run's.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}
