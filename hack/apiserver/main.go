// Command kube-apiserver-embedded runs a real kube-apiserver (k8s.io/kubernetes,
// in-process) on top of an embedded etcd, for kube-vrrp's end-to-end tests.
//
// Usage:
//
//	kube-apiserver-embedded --dir DIR [--bind-address 127.0.0.1] [--port 6443]
//	    [--etcd-port PORT+1] [--service-accounts] [--extra-sans IP,...]
//	    [--etcd-servers URL] [--listen-any] [-- extra kube-apiserver flags...]
//	kube-apiserver-embedded --etcd-only --dir DIR [--bind-address IP] [--etcd-port 2379]
//
// Several API servers on one etcd (a control plane of three): run one --etcd-only process
// (it also writes the shared CA, admin and service-account keys into its DIR), copy
// ca.*, admin.* and sa.* from there into each API server's DIR, and start each with
// --etcd-servers http://IP:PORT (no embedded etcd). --listen-any makes the API server listen
// on every address (kubeadm's default), so a VIP that lands on its host reaches it.
//
// --service-accounts keeps the ServiceAccount admission plugin on, so pods get their token
// volume: the real-node bed (hack/cluster.sh) needs it; the plain-process tests mint tokens
// themselves and leave it off. --extra-sans adds IP addresses to the serving certificate (a
// control-plane VIP in front of several API servers).
//
// It keeps everything in DIR: etcd/ (data), ca.*, admin.*, sa.* (kept across
// restarts so clients and service-account tokens stay valid), apiserver.*
// (serving certificate, regenerated each start) and admin.kubeconfig, which is
// removed at start and written once /readyz answers 200; then it prints
// "ready https://BIND:PORT" on stdout. SIGTERM/SIGINT stop the API server and
// etcd (a second signal, or a stuck shutdown after 15 s, exits at once).
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	fs := flag.NewFlagSet("kube-apiserver-embedded", flag.ExitOnError)
	dir := fs.String("dir", "", "state directory: etcd data, certificates, admin.kubeconfig (required)")
	bind := fs.String("bind-address", "127.0.0.1", "IP address for the API server and etcd")
	port := fs.Int("port", 6443, "API server secure port")
	etcdPort := fs.Int("etcd-port", 0, "etcd client port (default port+1; the peer port is this+1)")
	serviceAccounts := fs.Bool("service-accounts", false, "keep the ServiceAccount admission plugin (pods under real kubelets)")
	extraSANs := fs.String("extra-sans", "", "comma-separated IP addresses added to the serving certificate")
	etcdOnly := fs.Bool("etcd-only", false, "run only etcd on --bind-address:--etcd-port (and write the PKI into --dir)")
	etcdServers := fs.String("etcd-servers", "", "use this etcd instead of an embedded one")
	listenAny := fs.Bool("listen-any", false, "the API server listens on every address (advertising --bind-address)")
	fs.Parse(os.Args[1:])
	if *dir == "" || net.ParseIP(*bind) == nil {
		fmt.Fprintln(os.Stderr, "need --dir and an IP --bind-address")
		os.Exit(2)
	}
	if *etcdPort == 0 {
		*etcdPort = *port + 1
	}
	if *etcdOnly {
		if err := runEtcd(*dir, *bind, *etcdPort); err != nil {
			fmt.Fprintln(os.Stderr, "kube-apiserver-embedded:", err)
			os.Exit(1)
		}
		return
	}
	var sans []net.IP
	for _, s := range strings.Split(*extraSANs, ",") {
		if s == "" {
			continue
		}
		ip := net.ParseIP(s)
		if ip == nil {
			fmt.Fprintf(os.Stderr, "--extra-sans: %q is not an IP address\n", s)
			os.Exit(2)
		}
		sans = append(sans, ip)
	}
	admission := "--disable-admission-plugins=ServiceAccount"
	if *serviceAccounts {
		admission = "--disable-admission-plugins="
	}
	listen := *bind
	if *listenAny {
		listen = "0.0.0.0"
		if net.ParseIP(*bind).To4() == nil {
			listen = "::"
		}
	}
	opts := options{dir: *dir, bind: *bind, listen: listen, port: *port, etcdPort: *etcdPort,
		etcdServers: *etcdServers, admission: admission, sans: sans, extra: fs.Args()}
	if err := run(opts); err != nil {
		fmt.Fprintln(os.Stderr, "kube-apiserver-embedded:", err)
		os.Exit(1)
	}
}

// options of one API server run.
type options struct {
	dir, bind, listen string
	port, etcdPort    int
	etcdServers       string // external etcd; empty: an embedded one on bind:etcdPort
	admission         string
	sans              []net.IP
	extra             []string
}

// runEtcd runs etcd alone until SIGTERM/SIGINT, after writing the shared PKI into dir.
func runEtcd(dir, bind string, port int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if _, err := ensurePKI(dir, bind, nil); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	e, err := startEtcd(ctx, filepath.Join(dir, "etcd"), bind, port)
	if err != nil {
		return err
	}
	fmt.Println("ready etcd http://" + net.JoinHostPort(bind, strconv.Itoa(port)))
	<-ctx.Done()
	e.Close()
	return nil
}

func run(o options) error {
	dir, bind, port := o.dir, o.bind, o.port
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	kubeconfig := filepath.Join(dir, "admin.kubeconfig")
	os.Remove(kubeconfig) // its presence means "ready"
	pki, err := ensurePKI(dir, bind, o.sans)
	if err != nil {
		return err
	}

	// Created first: it installs the SIGTERM/SIGINT handler whose context
	// (cmd.Context()) we also use to abort our own waits.
	cmd := app.NewAPIServerCommand()
	ctx := cmd.Context()
	go func() { // bound the shutdown
		<-ctx.Done()
		time.Sleep(15 * time.Second)
		fmt.Fprintln(os.Stderr, "kube-apiserver-embedded: shutdown timed out")
		os.Exit(1)
	}()

	etcdServers := o.etcdServers
	if etcdServers == "" {
		etcd, err := startEtcd(ctx, filepath.Join(dir, "etcd"), bind, o.etcdPort)
		if err != nil {
			return err
		}
		defer etcd.Close() // after the API server has returned
		etcdServers = "http://" + net.JoinHostPort(bind, strconv.Itoa(o.etcdPort))
	}

	hostPort := net.JoinHostPort(bind, strconv.Itoa(port))
	cmd.SetArgs(append([]string{
		"--etcd-servers=" + etcdServers,
		"--bind-address=" + o.listen,
		"--secure-port=" + strconv.Itoa(port),
		"--advertise-address=" + bind,
		"--tls-cert-file=" + filepath.Join(dir, "apiserver.crt"),
		"--tls-private-key-file=" + filepath.Join(dir, "apiserver.key"),
		"--client-ca-file=" + filepath.Join(dir, "ca.crt"),
		"--service-account-key-file=" + filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(dir, "sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--authorization-mode=Node,RBAC",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--enable-priority-and-fairness=false",
		o.admission,
		"--endpoint-reconciler-type=none", // no `kubernetes` Endpoints writes
		"--allow-privileged=true",
		"--cert-dir=" + filepath.Join(dir, "certs"),
		"--profiling=false",
	}, o.extra...))

	apiErr := make(chan error, 1)
	go func() { apiErr <- cmd.Execute() }()

	// Announce readiness once, then wait for the API server to return
	// (on a signal, or on a fatal error).
	if err := waitReady(ctx, "https://"+hostPort+"/readyz", pki, apiErr); err != nil {
		return err
	}
	if err := writeKubeconfig(kubeconfig, "https://"+hostPort, pki); err != nil {
		return err
	}
	fmt.Println("ready https://" + hostPort)
	return <-apiErr
}

// startEtcd runs a single-member etcd listening only on bind, and waits until
// it serves. fsync is off: this is a disposable test store.
func startEtcd(ctx context.Context, dataDir, bind string, clientPort int) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Name = "default"
	cfg.Dir = dataDir
	client := url.URL{Scheme: "http", Host: net.JoinHostPort(bind, strconv.Itoa(clientPort))}
	peer := url.URL{Scheme: "http", Host: net.JoinHostPort(bind, strconv.Itoa(clientPort+1))}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "warn"
	cfg.UnsafeNoFsync = true
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	go func() { // etcd failing later is fatal
		if err, ok := <-e.Err(); ok && err != nil {
			fmt.Fprintln(os.Stderr, "kube-apiserver-embedded: etcd:", err)
			os.Exit(1)
		}
	}()
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case <-ctx.Done():
	case <-time.After(60 * time.Second):
	}
	e.Close()
	return nil, errors.New("etcd did not become ready")
}

// waitReady polls url with the admin certificate until it answers 200.
func waitReady(ctx context.Context, url string, pki *pki, apiErr <-chan error) error {
	roots := x509.NewCertPool()
	roots.AddCert(pki.caCert)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pki.admin}},
	}}
	for {
		if resp, err := hc.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-apiErr:
			return fmt.Errorf("kube-apiserver exited before ready: %v", err)
		case <-ctx.Done():
			return <-apiErr // stopped while starting
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func writeKubeconfig(path, server string, pki *pki) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kube-vrrp"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: pki.caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: pki.adminCertPEM, ClientKeyData: pki.adminKeyPEM}
	cfg.Contexts["admin@kube-vrrp"] = &clientcmdapi.Context{Cluster: "kube-vrrp", AuthInfo: "admin"}
	cfg.CurrentContext = "admin@kube-vrrp"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	// Write then rename, so a reader never sees half a file.
	if err := os.WriteFile(path+".tmp", data, 0o600); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// pki is what the rest of the program needs from the files ensurePKI writes.
type pki struct {
	caCert                           *x509.Certificate
	caPEM, adminCertPEM, adminKeyPEM []byte
	admin                            tls.Certificate
}

// ensurePKI creates, in dir, what is missing of: a CA, an admin client
// certificate (CN=admin, O=system:masters) and an RSA service-account key
// pair; and always a fresh serving certificate for bind (so --bind-address may
// change between runs). Keys are ECDSA P-256 (RSA for service accounts), PKCS#8.
func ensurePKI(dir, bind string, sans []net.IP) (*pki, error) {
	p := func(name string) string { return filepath.Join(dir, name) }
	caKey, caCert, err := loadPair(p("ca.crt"), p("ca.key"))
	newCA := err != nil
	if newCA {
		caKey, caCert, err = newCert(p("ca.crt"), p("ca.key"), &x509.Certificate{
			Subject:               pkix.Name{CommonName: "kube-vrrp-test-ca"},
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		}, nil, nil)
		if err != nil {
			return nil, err
		}
	}
	if _, _, err := loadPair(p("admin.crt"), p("admin.key")); err != nil || newCA {
		if _, _, err := newCert(p("admin.crt"), p("admin.key"), &x509.Certificate{
			Subject:     pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}, caCert, caKey); err != nil {
			return nil, err
		}
	}
	if _, _, err := newCert(p("apiserver.crt"), p("apiserver.key"), &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: append([]net.IP{net.ParseIP(bind), net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP("10.96.0.1")}, sans...),
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
	}, caCert, caKey); err != nil {
		return nil, err
	}
	if _, err := os.Stat(p("sa.pub")); err != nil {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err := writeKey(p("sa.key"), key); err != nil {
			return nil, err
		}
		if err := writePEM(p("sa.pub"), "PUBLIC KEY", pub, 0o644); err != nil {
			return nil, err
		}
	}

	out := &pki{caCert: caCert}
	for path, dst := range map[string]*[]byte{p("ca.crt"): &out.caPEM, p("admin.crt"): &out.adminCertPEM, p("admin.key"): &out.adminKeyPEM} {
		if *dst, err = os.ReadFile(path); err != nil {
			return nil, err
		}
	}
	out.admin, err = tls.X509KeyPair(out.adminCertPEM, out.adminKeyPEM)
	return out, err
}

// loadPair reads a certificate and its PKCS#8 key.
func loadPair(certPath, keyPath string) (crypto.Signer, *x509.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	return pair.PrivateKey.(crypto.Signer), cert, nil
}

// newCert makes a new P-256 key and a 10-year certificate from tmpl, signed by
// parent/parentKey (self-signed when parent is nil), and writes both.
func newCert(certPath, keyPath string, tmpl, parent *x509.Certificate, parentKey crypto.Signer) (crypto.Signer, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)); err != nil {
		return nil, nil, err
	}
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().AddDate(10, 0, 0)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	if err := writeKey(keyPath, key); err != nil {
		return nil, nil, err
	}
	return key, cert, writePEM(certPath, "CERTIFICATE", der, 0o644)
}

func writeKey(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "PRIVATE KEY", der, 0o600)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}
