// Command lease-announcer is the benchmark's stand-in for kube-vip's ARP mode with lease
// election: a client-go leaderelection loop on one coordination.k8s.io Lease; the leader adds the
// VIP to an interface and sends gratuitous ARPs (broadcast ARP requests, sender = target = the
// VIP, as keepalived, kube-vip and kube-vrrp send them), the others hold nothing. It is not
// kube-vip (whose module the Go proxy refuses): it does what kube-vip's ARP mode does with the
// address and the lease, with kube-vip's timings as flags.
//
// Usage:
//
//	lease-announcer --kubeconfig FILE --node-name NAME --address 198.51.100.100/32 \
//	    [--interface eth0] [--namespace kube-system] [--lease-name plndr-cp-lock] \
//	    [--lease-duration 15s] [--renew-deadline 10s] [--retry-period 2s] [--arp-interval 3s]
//
// Like kube-vip, losing the lease (a renewal that did not succeed within the renew deadline,
// e.g. while the API server is unreachable) removes the VIP, and SIGTERM releases the lease
// (ReleaseOnCancel) and removes the VIP. After a loss it joins the election again (kube-vip
// exits and its pod is restarted; the restart delay is left out here).
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
	node := flag.String("node-name", os.Getenv("NODE_NAME"), "this node's name (the lease holder identity)")
	address := flag.String("address", "", "the VIP with its prefix length, e.g. 198.51.100.100/32")
	ifname := flag.String("interface", "eth0", "interface that carries the VIP")
	namespace := flag.String("namespace", "kube-system", "namespace of the Lease")
	leaseName := flag.String("lease-name", "plndr-cp-lock", "name of the Lease (kube-vip's control-plane lease)")
	leaseDuration := flag.Duration("lease-duration", 15*time.Second, "lease duration (kube-vip: vip_leaseduration)")
	renewDeadline := flag.Duration("renew-deadline", 10*time.Second, "renew deadline (kube-vip: vip_renewdeadline)")
	retryPeriod := flag.Duration("retry-period", 2*time.Second, "retry period (kube-vip: vip_retryperiod)")
	arpInterval := flag.Duration("arp-interval", 3*time.Second, "gratuitous ARP repeat while leading (kube-vip: vip_arpRate 3000 ms); 0 = only once")
	flag.Parse()
	if *node == "" || *address == "" {
		fmt.Fprintln(os.Stderr, "need --node-name and --address")
		os.Exit(2)
	}
	vip, err := netlink.ParseAddr(*address)
	if err != nil || vip.IP.To4() == nil {
		fmt.Fprintf(os.Stderr, "--address %q: need an IPv4 address with a prefix length\n", *address)
		os.Exit(2)
	}
	link, err := netlink.LinkByName(*ifname)
	if err != nil {
		fmt.Fprintf(os.Stderr, "interface %s: %v\n", *ifname, err)
		os.Exit(1)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kubeconfig %s: %v\n", *kubeconfig, err)
		os.Exit(2)
	}
	client := kubernetes.NewForConfigOrDie(cfg)

	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sigs; logf("signal: releasing the lease"); cancel() }()

	a := &announcer{link: link, vip: vip, interval: *arpInterval}
	for ctx.Err() == nil {
		lock := &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Name: *leaseName, Namespace: *namespace},
			Client:     client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: *node},
		}
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   *leaseDuration,
			RenewDeadline:   *renewDeadline,
			RetryPeriod:     *retryPeriod,
			ReleaseOnCancel: true,
			Name:            *leaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: a.lead,
				OnStoppedLeading: a.stop,
				OnNewLeader:      func(id string) { logf("leader is %s", id) },
			},
		})
	}
	a.stop()
	logf("stopped")
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// announcer holds the VIP while its context (the leadership) lasts.
type announcer struct {
	link     netlink.Link
	vip      *netlink.Addr
	interval time.Duration
}

// lead adds the VIP, sends a gratuitous ARP and repeats it until leadership ends.
func (a *announcer) lead(ctx context.Context) {
	logf("leading: adding %s to %s", a.vip, a.link.Attrs().Name)
	if err := netlink.AddrReplace(a.link, a.vip); err != nil {
		logf("adding %s: %v", a.vip, err)
	}
	for {
		if err := a.garp(); err != nil {
			logf("gratuitous ARP: %v", err)
		}
		if a.interval <= 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(a.interval):
		}
	}
}

// stop removes the VIP (idempotent).
func (a *announcer) stop() {
	if err := netlink.AddrDel(a.link, a.vip); err == nil {
		logf("removed %s", a.vip)
	}
}

// garp sends one broadcast ARP request with sender = target = the VIP.
func (a *announcer) garp() error {
	attrs := a.link.Attrs()
	proto := htons(unix.ETH_P_ARP)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(proto))
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	mac := attrs.HardwareAddr
	ip := a.vip.IP.To4()
	frame := make([]byte, 0, 42)
	frame = append(frame, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	frame = append(frame, mac...)
	frame = append(frame, 0x08, 0x06)                   // ARP
	frame = append(frame, 0x00, 0x01, 0x08, 0x00, 6, 4) // Ethernet, IPv4
	frame = append(frame, 0x00, 0x01)                   // request
	frame = append(frame, mac...)
	frame = append(frame, ip...)
	frame = append(frame, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	frame = append(frame, ip...)
	sa := &unix.SockaddrLinklayer{Protocol: proto, Ifindex: attrs.Index, Halen: 6}
	copy(sa.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	return unix.Sendto(fd, frame, 0, sa)
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

var _ = net.IPv4len
