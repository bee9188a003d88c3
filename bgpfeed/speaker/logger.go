package speaker

import (
	"context"
	"log/slog"
	"sort"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

// Log keys, shared by the speaker's own messages.
const (
	keyErr    = "err"
	keyPeer   = "peer"
	keyPeerAS = "peer_as"
	keyState  = "state"
	keyFamily = "family"
	keyCount  = "count"
	keyRoutes = "routes"
)

// gobgpLogger adapts slog to GoBGP's logger interface. GoBGP's Fatal and
// Panic are logged at error level and do not exit: a library must not end
// the process.
type gobgpLogger struct {
	l *slog.Logger
}

func newGoBGPLogger(l *slog.Logger) *gobgpLogger {
	return &gobgpLogger{l: l.With("stage", "gobgp")}
}

func (g *gobgpLogger) log(level slog.Level, msg string, fields gobgplog.Fields) {
	ctx := context.Background()
	if !g.l.Enabled(ctx, level) {
		return
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, fields[k]))
	}
	g.l.LogAttrs(ctx, level, msg, attrs...)
}

func (g *gobgpLogger) Panic(msg string, f gobgplog.Fields) { g.log(slog.LevelError, msg, f) }
func (g *gobgpLogger) Fatal(msg string, f gobgplog.Fields) { g.log(slog.LevelError, msg, f) }
func (g *gobgpLogger) Error(msg string, f gobgplog.Fields) { g.log(slog.LevelError, msg, f) }
func (g *gobgpLogger) Warn(msg string, f gobgplog.Fields)  { g.log(slog.LevelWarn, msg, f) }
func (g *gobgpLogger) Info(msg string, f gobgplog.Fields)  { g.log(slog.LevelInfo, msg, f) }
func (g *gobgpLogger) Debug(msg string, f gobgplog.Fields) { g.log(slog.LevelDebug, msg, f) }

// SetLevel is a no-op: the slog handler decides.
func (g *gobgpLogger) SetLevel(gobgplog.LogLevel) {}

// GetLevel tells GoBGP whether to build its (costly) debug messages.
func (g *gobgpLogger) GetLevel() gobgplog.LogLevel {
	if g.l.Enabled(context.Background(), slog.LevelDebug) {
		return gobgplog.DebugLevel
	}
	return gobgplog.InfoLevel
}

var _ gobgplog.Logger = (*gobgpLogger)(nil)
