package coord

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// DebugEnv is the environment variable that, when set to a non-empty
// value, lets etcd's own logs through at debug level. Otherwise only its
// errors reach halun's log.
const DebugEnv = "HALUN_ETCD_DEBUG"

// shutdownNoise are fragments of errors etcd logs when it is closed on
// purpose; they say nothing wrong.
var shutdownNoise = []string{
	"mux: server closed",
	"http: Server closed",
	"use of closed network connection",
	"grpc: the server has been stopped",
}

// bootstrapNoise are fragments of errors etcd logs while a new member
// bootstraps, before its backend records its term and conf state; they
// do no harm (etcd-io/etcd#18978, whose tests ignore them too), so they
// are logged at debug level.
var bootstrapNoise = []string{
	"cannot detect storage schema version: missing",
}

// zapToSlog builds a zap logger that writes to log: errors only, unless
// DebugEnv is set. component tags each record (etcd, etcd-client).
func zapToSlog(log *slog.Logger, component string) *zap.Logger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	level := zapcore.ErrorLevel
	if os.Getenv(DebugEnv) != "" {
		level = zapcore.DebugLevel
	}
	return zap.New(&slogCore{log: log.With("component", component), level: level})
}

// slogCore is a zapcore.Core writing to a slog.Logger.
type slogCore struct {
	log    *slog.Logger
	level  zapcore.Level
	fields []zapcore.Field
}

func (c *slogCore) Enabled(l zapcore.Level) bool { return l >= c.level }

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	n := *c
	n.fields = append(append([]zapcore.Field(nil), c.fields...), fields...)
	return &n
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	if containsAny(e.Message, enc.Fields, shutdownNoise) {
		return nil
	}
	level := slogLevel(e.Level)
	if containsAny(e.Message, enc.Fields, bootstrapNoise) {
		if c.level > zapcore.DebugLevel {
			return nil
		}
		level = slog.LevelDebug
	}
	attrs := make([]slog.Attr, 0, len(enc.Fields)+1)
	if e.LoggerName != "" {
		attrs = append(attrs, slog.String("logger", e.LoggerName))
	}
	for _, k := range slices.Sorted(maps.Keys(enc.Fields)) {
		attrs = append(attrs, slog.Any(k, enc.Fields[k]))
	}
	c.log.LogAttrs(context.Background(), level, e.Message, attrs...)
	return nil
}

func (c *slogCore) Sync() error { return nil }

// containsAny says whether the message or a string field contains one
// of fragments.
func containsAny(msg string, fields map[string]any, fragments []string) bool {
	texts := []string{msg}
	for _, v := range fields {
		if s, ok := v.(string); ok {
			texts = append(texts, s)
		}
	}
	for _, t := range texts {
		for _, n := range fragments {
			if strings.Contains(t, n) {
				return true
			}
		}
	}
	return false
}

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}
