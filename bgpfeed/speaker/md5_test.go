package speaker

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"syscall"
)

// probeTCPMD5 sets a TCP MD5 key for addr on a fresh plain-TCP listener
// on loopback, as GoBGP does on its own: nil when the kernel accepts it.
// (Go's default listener is Multipath TCP since Go 1.24, which refuses
// TCP_MD5SIG whatever the kernel supports; the speaker turns that off.)
func probeTCPMD5(addr netip.Addr) error {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	l, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	rc, err := l.(*net.TCPListener).SyscallConn()
	if err != nil {
		return err
	}
	// struct tcp_md5sig: sockaddr_storage (128), flags, prefixlen,
	// keylen (2), ifindex (4), key[80].
	const tcpMD5Sig = 14 // TCP_MD5SIG
	key := "probe"
	buf := make([]byte, 128+1+1+2+4+80)
	binary.NativeEndian.PutUint16(buf[0:], syscall.AF_INET)
	a4 := addr.As4()
	copy(buf[4:8], a4[:])
	binary.NativeEndian.PutUint16(buf[130:], uint16(len(key)))
	copy(buf[136:], key)
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptString(int(fd), syscall.IPPROTO_TCP, tcpMD5Sig, string(buf))
	}); err != nil {
		return err
	}
	return serr
}
