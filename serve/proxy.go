package serve

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/dingbook/dingbook"
)

// Behind a reverse proxy ('dingbook serve --trusted-proxy CIDR'): only a
// request whose peer is inside a trusted prefix has its X-Forwarded-For,
// X-Forwarded-Proto and X-Forwarded-Host believed. From anyone else
// those headers are ignored, so a client cannot choose the address the
// login rate limiter and the audit log see.

type forwardedKey struct{}

// ParseTrustedProxies reads --trusted-proxy values: CIDR prefixes or
// single addresses, each value possibly a comma-separated list.
func ParseTrustedProxies(values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			p, err := netip.ParsePrefix(item)
			if err != nil {
				a, aerr := netip.ParseAddr(item)
				if aerr != nil {
					return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "--trusted-proxy " + item + " is not a CIDR prefix or an IP address",
						Hint: "give the reverse proxy's network, such as --trusted-proxy 10.0.0.0/8 or --trusted-proxy 127.0.0.1", Err: err}
				}
				p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			}
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

// trusted reports whether a is inside a trusted prefix.
func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hopAddr parses one X-Forwarded-For entry: an address, with or without
// a port.
func hopAddr(hop string) (netip.Addr, bool) {
	hop = strings.TrimSpace(hop)
	if a, err := netip.ParseAddr(hop); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(hop); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// lastValue is the last comma-separated value of a header (the one the
// nearest proxy set).
func lastValue(h http.Header, key string) string {
	vals := h.Values(key)
	if len(vals) == 0 {
		return ""
	}
	parts := strings.Split(vals[len(vals)-1], ",")
	return strings.TrimSpace(parts[len(parts)-1])
}

// forwarded applies a trusted proxy's X-Forwarded-* headers: the client's
// address (the rightmost X-Forwarded-For hop that is not a trusted proxy)
// becomes RemoteAddr, X-Forwarded-Host the Host, and X-Forwarded-Proto:
// https makes cookies Secure.
func (s *Server) forwarded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(s.TrustedProxies) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		peer, ok := hopAddr(r.RemoteAddr)
		if !ok || !s.trusted(peer) {
			next.ServeHTTP(w, r)
			return
		}
		client := peer
		var hops []string
		for _, v := range r.Header.Values("X-Forwarded-For") {
			hops = append(hops, strings.Split(v, ",")...)
		}
		for i := len(hops) - 1; i >= 0; i-- {
			a, ok := hopAddr(hops[i])
			if !ok {
				break // garbage: believe nothing left of it
			}
			client = a
			if !s.trusted(a) {
				break
			}
		}
		https := strings.EqualFold(lastValue(r.Header, "X-Forwarded-Proto"), "https")
		r = r.WithContext(context.WithValue(r.Context(), forwardedKey{}, https))
		r.RemoteAddr = net.JoinHostPort(client.String(), "0")
		if host := lastValue(r.Header, "X-Forwarded-Host"); host != "" && !strings.ContainsAny(host, " /\\@") {
			r.Host = host
		}
		next.ServeHTTP(w, r)
	})
}

// forwardedHTTPS reports whether a trusted proxy said the client used
// https.
func forwardedHTTPS(r *http.Request) bool {
	https, _ := r.Context().Value(forwardedKey{}).(bool)
	return https
}
