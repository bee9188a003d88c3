package speaker

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/bgpsentry/bgpsentry/bgpfeed"
)

// Family is a set of address families a session carries.
type Family uint8

// Address families. A zero Family in a Neighbor means both.
const (
	IPv4Unicast Family = 1 << iota
	IPv6Unicast

	allFamilies = IPv4Unicast | IPv6Unicast
)

func (f Family) String() string {
	var parts []string
	if f&IPv4Unicast != 0 {
		parts = append(parts, "ipv4-unicast")
	}
	if f&IPv6Unicast != 0 {
		parts = append(parts, "ipv6-unicast")
	}
	if rest := f &^ allFamilies; rest != 0 {
		parts = append(parts, fmt.Sprintf("family(%#x)", uint8(rest)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// Defaults applied by New to zero fields.
const (
	DefaultName             = "speaker"
	DefaultListenPort       = 1179 // unprivileged: no root needed
	DefaultPeerPort         = 179
	DefaultQueueSize        = 1 << 16
	DefaultQuietPeriod      = 5 * time.Second
	DefaultMaxTableTransfer = 10 * time.Minute
	// NoListen as Config.ListenPort opens no listening socket: only active
	// sessions are possible.
	NoListen = -1
	// maxPasswordLen is TCP_MD5SIG_MAXKEYLEN of Linux.
	maxPasswordLen = 80
)

// DefaultListenAddr is the listen address used when Config.ListenAddrs is
// empty: loopback only, so a test or lab speaker is not reachable from
// outside unless configured so.
var DefaultListenAddr = netip.MustParseAddr("127.0.0.1")

// Neighbor is one BGP peer of the speaker.
type Neighbor struct {
	// Addr is the peer's address, the remote end of the session.
	Addr netip.Addr
	// ASN is the peer's AS number.
	ASN uint32
	// Passive makes the speaker wait for the peer to connect. Otherwise
	// it connects too (to Port, from LocalAddr), and still accepts.
	Passive bool
	// Port is the peer's TCP port for active sessions (default 179).
	Port uint16
	// LocalAddr is the source address of active sessions (optional).
	LocalAddr netip.Addr
	// Password turns on TCP MD5 signatures (RFC 2385) for the session.
	// Take it from the environment or a secret file, not a flag.
	Password string
	// MaxPrefixes, when non-zero, ends the session (NOTIFICATION Cease,
	// maximum number of prefixes reached) when the peer announces more
	// than this many prefixes in one family.
	MaxPrefixes uint32
	// Families the session carries; zero means IPv4 and IPv6 unicast.
	Families Family
	// AddPath asks the peer to send several paths per prefix (RFC 7911,
	// receive direction only).
	AddPath bool
	// MultihopTTL, when non-zero, allows an eBGP peer that many hops away.
	MultihopTTL uint8
	// Description is a free-form label (logged, shown in Stats).
	Description string
}

// Config configures a Speaker. Zero fields take the defaults above.
type Config struct {
	// Name is the Source of every Update (default "speaker").
	Name string
	// ASN is the speaker's own AS number. It is never advertised to
	// anyone, but it is in the OPEN message and decides eBGP versus iBGP.
	// Paths containing it are accepted (loop detection is off).
	ASN uint32
	// RouterID is the BGP identifier, an IPv4 address (required).
	RouterID netip.Addr
	// ListenAddrs are the addresses to accept sessions on (default
	// 127.0.0.1 only).
	ListenAddrs []netip.Addr
	// ListenPort is the TCP port to accept sessions on (default 1179, no
	// root needed; NoListen opens none).
	ListenPort int
	// Neighbors are the peers configured at start; more are added and
	// removed at run time with AddNeighbor and RemoveNeighbor.
	Neighbors []Neighbor
	// QueueSize bounds the route Updates waiting for Next (default 65536).
	// When it is full new route Updates are dropped and counted in
	// Stats.Dropped; see the package documentation.
	QueueSize int
	// QuietPeriod ends a peer's table transfer (Update.Table) at a gap
	// this long between two of its routes, for peers that send no
	// End-of-RIB (default 5s).
	QuietPeriod time.Duration
	// MaxTableTransfer ends a table transfer this long after the session
	// came up, however busy the peer is (default 10m).
	MaxTableTransfer time.Duration
	// Logger receives the speaker's and GoBGP's logs (default: discard).
	Logger *slog.Logger
	// Interner shares AS paths with other sources (default: a new one).
	Interner *bgpfeed.Interner
}

// ErrConfig is the sentinel every configuration error wraps.
var ErrConfig = errors.New("speaker: invalid configuration")

// ConfigError is one configuration problem: the field, its value, and
// why it is refused. It unwraps to ErrConfig.
type ConfigError struct {
	Field string // e.g. "ASN", "Neighbors[2].Addr"
	Value string // the offending value as configured, "" when absent
	Err   error
}

func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("speaker: config: %s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("speaker: config: %s %q: %v", e.Field, e.Value, e.Err)
}

// Unwrap returns ErrConfig and the underlying reason.
func (e *ConfigError) Unwrap() []error { return []error{ErrConfig, e.Err} }

// Reasons a value is refused, wrapped by ConfigError.
var (
	ErrReservedASN   = errors.New("AS number 0, 23456 (AS_TRANS) and 4294967295 are reserved and cannot be used by a BGP speaker")
	ErrMissing       = errors.New("required")
	ErrBadAddr       = errors.New("not a usable unicast address")
	ErrDuplicate     = errors.New("duplicate neighbour address")
	ErrFamilyMix     = errors.New("local address and neighbour address must be both IPv4 or both IPv6")
	ErrPassiveLocal  = errors.New("a local address applies to active sessions only; remove it or set Passive false")
	ErrPasswordLen   = errors.New("TCP MD5 password longer than 80 bytes")
	ErrUnknownFamily = errors.New("unknown address family bits")
	ErrRange         = errors.New("out of range")
)

func validASN(asn uint32) bool {
	return asn != 0 && asn != 23456 && asn != 4294967295
}

func usableAddr(a netip.Addr) bool {
	return a.IsValid() && !a.IsUnspecified() && !a.IsMulticast()
}

// Validate reports the first problem of c, as a *ConfigError.
func (c *Config) Validate() error {
	if !validASN(c.ASN) {
		return &ConfigError{Field: "ASN", Value: fmt.Sprint(c.ASN), Err: ErrReservedASN}
	}
	if !c.RouterID.IsValid() {
		return &ConfigError{Field: "RouterID", Err: ErrMissing}
	}
	if !c.RouterID.Is4() || c.RouterID.IsUnspecified() {
		return &ConfigError{Field: "RouterID", Value: c.RouterID.String(), Err: errors.New("must be a non-zero IPv4 address (RFC 6286 allows any 32-bit value; GoBGP wants dotted quad)")}
	}
	for i, a := range c.ListenAddrs {
		if !a.IsValid() || a.IsMulticast() {
			return &ConfigError{Field: fmt.Sprintf("ListenAddrs[%d]", i), Value: a.String(), Err: ErrBadAddr}
		}
	}
	if c.ListenPort < NoListen || c.ListenPort > 65535 {
		return &ConfigError{Field: "ListenPort", Value: fmt.Sprint(c.ListenPort), Err: fmt.Errorf("%w: want 1..65535, 0 for the default %d, or %d for no listener", ErrRange, DefaultListenPort, NoListen)}
	}
	if c.QueueSize < 0 {
		return &ConfigError{Field: "QueueSize", Value: fmt.Sprint(c.QueueSize), Err: fmt.Errorf("%w: the queue must be bounded; 0 takes the default %d", ErrRange, DefaultQueueSize)}
	}
	if c.QuietPeriod < 0 {
		return &ConfigError{Field: "QuietPeriod", Value: c.QuietPeriod.String(), Err: ErrRange}
	}
	if c.MaxTableTransfer < 0 {
		return &ConfigError{Field: "MaxTableTransfer", Value: c.MaxTableTransfer.String(), Err: ErrRange}
	}
	seen := make(map[netip.Addr]int, len(c.Neighbors))
	for i := range c.Neighbors {
		n := &c.Neighbors[i]
		field := fmt.Sprintf("Neighbors[%d]", i)
		if err := n.validate(field); err != nil {
			return err
		}
		if j, dup := seen[n.Addr.Unmap()]; dup {
			return &ConfigError{Field: field + ".Addr", Value: n.Addr.String(), Err: fmt.Errorf("%w (also Neighbors[%d])", ErrDuplicate, j)}
		}
		seen[n.Addr.Unmap()] = i
	}
	return nil
}

// validate checks one neighbour; field names it in errors.
func (n *Neighbor) validate(field string) error {
	if !n.Addr.IsValid() {
		return &ConfigError{Field: field + ".Addr", Err: ErrMissing}
	}
	if !usableAddr(n.Addr) {
		return &ConfigError{Field: field + ".Addr", Value: n.Addr.String(), Err: ErrBadAddr}
	}
	if !validASN(n.ASN) {
		return &ConfigError{Field: field + ".ASN", Value: fmt.Sprint(n.ASN), Err: ErrReservedASN}
	}
	if n.LocalAddr.IsValid() {
		if n.Passive {
			return &ConfigError{Field: field + ".LocalAddr", Value: n.LocalAddr.String(), Err: ErrPassiveLocal}
		}
		if !usableAddr(n.LocalAddr) {
			return &ConfigError{Field: field + ".LocalAddr", Value: n.LocalAddr.String(), Err: ErrBadAddr}
		}
		if n.LocalAddr.Unmap().Is4() != n.Addr.Unmap().Is4() {
			return &ConfigError{Field: field + ".LocalAddr", Value: n.LocalAddr.String(), Err: ErrFamilyMix}
		}
	}
	if len(n.Password) > maxPasswordLen {
		return &ConfigError{Field: field + ".Password", Err: ErrPasswordLen}
	}
	if n.Families&^allFamilies != 0 {
		return &ConfigError{Field: field + ".Families", Value: n.Families.String(), Err: ErrUnknownFamily}
	}
	return nil
}

// normalized returns n with defaults applied and addresses unmapped.
func (n Neighbor) normalized() Neighbor {
	n.Addr = n.Addr.Unmap()
	if n.LocalAddr.IsValid() {
		n.LocalAddr = n.LocalAddr.Unmap()
	}
	if n.Port == 0 {
		n.Port = DefaultPeerPort
	}
	if n.Families == 0 {
		n.Families = allFamilies
	}
	return n
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if len(c.ListenAddrs) == 0 {
		c.ListenAddrs = []netip.Addr{DefaultListenAddr}
	}
	if c.ListenPort == 0 {
		c.ListenPort = DefaultListenPort
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.QuietPeriod == 0 {
		c.QuietPeriod = DefaultQuietPeriod
	}
	if c.MaxTableTransfer == 0 {
		c.MaxTableTransfer = DefaultMaxTableTransfer
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Interner == nil {
		c.Interner = bgpfeed.NewInterner(0)
	}
	c.Neighbors = append([]Neighbor(nil), c.Neighbors...)
	for i := range c.Neighbors {
		c.Neighbors[i] = c.Neighbors[i].normalized()
	}
	return c
}
