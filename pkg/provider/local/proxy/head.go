package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// The fast path forwards plain HTTP/1.1 requests without net/http. It only
// takes what it understands completely; for anything else parseRequestHead
// says no and the connection goes to net/http, which parses it again from
// the first byte. Clients are untrusted, so "plain" is strict: a request
// that net/http would read differently (request smuggling lives in those
// differences) is never forwarded by the fast path. FuzzRequestHead checks
// that against net/http.ReadRequest.

var (
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
	lflf     = []byte("\n\n")
)

// maxIDLen is the longest X-Request-Id taken from a client.
const maxIDLen = 128

// reqHead is a request the fast path forwards itself. The slices point into
// the connection's read buffer: they are valid until the head is discarded.
type reqHead struct {
	size   int // bytes of the head with its blank line
	method []byte
	target []byte
	host   []byte
	id     []byte // X-Request-Id as the client sent it, or nil
	length int64  // Content-Length, 0 when absent
	// keep are the header lines forwarded as they are, each without CRLF:
	// all but the hop-by-hop and X-Forwarded-* lines, which the proxy sets.
	keep [][]byte
}

// headEnd finds the end of a head (a request's or an answer's) in buf: the
// index after its blank line, 0 when more bytes are needed, -1 when the
// head is not plain (a line ends with a bare LF). The end is found by the
// line rule net/http reads by, a line ends at LF with an optional CR, so
// "…\n\r\n" ends the head there (with a bare LF: -1) and not at the
// first CRLF CRLF further on, inside the body.
func headEnd(buf []byte) int {
	i := bytes.Index(buf, crlfcrlf)
	limit := len(buf)
	if i >= 0 {
		limit = i + 3 // a bare-LF blank line must come before it
	}
	if lf := bytes.Index(buf[:min(limit+1, len(buf))], lflf); lf >= 0 && (i < 0 || lf < i) {
		return -1
	}
	for k := 0; ; {
		j := bytes.Index(buf[k:limit], []byte("\n\r\n"))
		if j < 0 {
			break
		}
		if k+j == 0 || buf[k+j-1] != '\r' { // a field line ended by a bare LF, then the blank line
			return -1
		}
		k += j + 1
	}
	if i < 0 {
		return 0
	}
	return i + 4
}

// parseRequestHead reads the complete head buf (ending with its blank line)
// into h, and says whether the fast path may forward it.
func parseRequestHead(buf []byte, h *reqHead) bool {
	*h = reqHead{size: len(buf), keep: h.keep[:0]}
	i := bytes.Index(buf, crlf)
	if i < 0 {
		return false
	}
	line, rest := buf[:i], buf[i+2:]
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return false
	}
	h.method, line = line[:sp], line[sp+1:]
	if !plainMethod(h.method) {
		return false
	}
	sp = bytes.IndexByte(line, ' ')
	if sp < 0 {
		return false
	}
	h.target = line[:sp]
	if string(line[sp+1:]) != "HTTP/1.1" || !plainTarget(h.target) {
		return false
	}
	hosts, lengths := 0, 0
	for {
		i := bytes.Index(rest, crlf)
		if i < 0 {
			return false
		}
		line, rest = rest[:i], rest[i+2:]
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return false // also an obs-folded line, which starts with a space
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		if !fieldValue(value) {
			return false
		}
		switch hopHeader(name) {
		case hdrHost:
			hosts++
			if !plainHost(value) {
				return false
			}
			h.host = value
		case hdrLength:
			n, ok := parseLength(value)
			if lengths++; !ok || lengths > 1 {
				return false
			}
			h.length = n
		case hdrDrop:
			continue
		case hdrConnection:
			if !bytes.EqualFold(value, []byte("keep-alive")) {
				return false
			}
			continue
		case hdrRequestID:
			if h.id != nil {
				return false
			}
			if len(value) == 0 || len(value) > maxIDLen {
				h.id = []byte{}
				continue // replaced by one of the proxy's
			}
			h.id = value
		case hdrHandOff:
			return false
		}
		h.keep = append(h.keep, line)
	}
	if len(h.id) == 0 {
		h.id = nil
	}
	return hosts == 1
}

func plainMethod(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return true
	}
	return false
}

// plainTarget accepts an origin-form target of the characters RFC 3986
// allows, with valid escapes, whose path is clean: net/http's ServeMux
// would answer a redirect for a path with "//", "." or ".." segments, so
// those go to it. ';' goes too, as ReverseProxy drops such query parameters.
func plainTarget(t []byte) bool {
	if len(t) == 0 || t[0] != '/' || len(t) > 8<<10 {
		return false
	}
	path := t
	if q := bytes.IndexByte(t, '?'); q >= 0 {
		path = t[:q]
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '%':
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return false
			}
			if i < len(path) && (t[i+1] == '2' && (t[i+2]|0x20 == 'e' || t[i+2]|0x20 == 'f')) {
				return false // an escaped '.' or '/' in the path
			}
		case uriChar[c]:
		default:
			return false
		}
	}
	if string(path) == "/-/health" {
		return false // the proxy's own endpoint
	}
	return !bytes.Contains(path, []byte("//")) && !bytes.Contains(path, []byte("/./")) &&
		!bytes.Contains(path, []byte("/../")) && !bytes.HasSuffix(path, []byte("/.")) && !bytes.HasSuffix(path, []byte("/.."))
}

var uriChar = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@/?") {
		t[c] = true
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// plainHost accepts a host name or IPv4 address with an optional port, or
// a bracketed IPv6 address.
func plainHost(v []byte) bool {
	if len(v) == 0 || len(v) > 255 {
		return false
	}
	for _, c := range v {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_') {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~") {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	for _, c := range b {
		if !tokenChar[c] {
			return false
		}
	}
	return len(b) > 0
}

// fieldValue accepts visible characters, spaces and tabs, and obs-text.
func fieldValue(v []byte) bool {
	for _, c := range v {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseLength reads a Content-Length: decimal digits only, at most 1 TiB.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 13 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n <= 1<<40
}

type hdrKind int

const (
	hdrOther      hdrKind = iota
	hdrHost               // Host: checked and kept
	hdrLength             // Content-Length: checked and kept
	hdrDrop               // set by the proxy or hop-by-hop: not forwarded
	hdrConnection         // Connection: keep-alive is dropped, anything else hands off
	hdrRequestID          // X-Request-Id
	hdrHandOff            // needs net/http: body framing, upgrades, expectations
)

// requestFields sorts the request fields the proxy treats specially; all
// others pass as they are.
var requestFields = []struct {
	name string
	kind hdrKind
}{
	{"host", hdrHost}, {"content-length", hdrLength}, {"connection", hdrConnection}, {"x-request-id", hdrRequestID},
	{"keep-alive", hdrDrop}, {"forwarded", hdrDrop}, {"x-forwarded-for", hdrDrop}, {"x-forwarded-host", hdrDrop}, {"x-forwarded-proto", hdrDrop},
	{"te", hdrHandOff}, {"expect", hdrHandOff}, {"upgrade", hdrHandOff}, {"trailer", hdrHandOff}, {"transfer-encoding", hdrHandOff},
	{"proxy-connection", hdrHandOff}, {"proxy-authenticate", hdrHandOff}, {"proxy-authorization", hdrHandOff},
}

// hopHeader sorts a request header name, case-insensitively.
func hopHeader(name []byte) hdrKind {
	for _, f := range requestFields {
		if len(f.name) == len(name) && bytes.EqualFold(name, []byte(f.name)) {
			return f.kind
		}
	}
	return hdrOther
}

// Response heads come from the slots. They are parsed as leniently as
// net/http's client reads them, and rewritten only where a proxy must: the
// hop-by-hop fields go, framing is kept as the slot sent it.

type framing int

const (
	noBody      framing = iota // HEAD, 204, 304
	lengthBody                 // Content-Length
	chunkedBody                // Transfer-Encoding: chunked, copied chunk by chunk
	closeBody                  // until the slot closes: the client's connection closes too
)

// maxAnswerHead bounds a slot's answer head, its status line and fields
// (each informational answer counts on its own), as net/http's
// Transport.MaxResponseHeaderBytes does; a longer one is a 502.
const maxAnswerHead = 64 << 10

// respHead is the response head as the client gets it.
type respHead struct {
	size    int // bytes of the head read so far, line endings included
	status  int
	framing framing
	length  int64
	reuse   bool // the slot's connection may serve another request
	hasID   bool
	chunked bool
	info    int      // informational answers passed on before this one
	out     []byte   // status line and kept fields, each with CRLF; no blank line yet
	conn    [][]byte // field names the slot's Connection header lists
	spans   [][2]int // fields in out, for dropping those named in Connection
	scratch []byte
}

var errBadResponse = errors.New("malformed response")

// maxInformational bounds the informational answers to one request, as
// net/http's client does.
const maxInformational = 5

// readResponseHead reads the slot's answer to a request. Informational
// answers (1xx, such as 103 Early Hints) are written to info as they come,
// without their hop-by-hop fields, and flushed: the client gets them before
// the final answer, as net/http's ReverseProxy passes them on. 100 Continue
// is the exception: it answers the proxy's own request, not the client's.
func readResponseHead(br *bufio.Reader, head bool, h *respHead, info *bufio.Writer) error {
	for n := 0; ; n++ {
		*h = respHead{out: h.out[:0], conn: h.conn[:0], spans: h.spans[:0], scratch: h.scratch[:0], reuse: true, length: -1, info: n}
		line, err := h.readLine(br)
		if err != nil {
			return err
		}
		if len(line) < 12 || !(string(line[:9]) == "HTTP/1.1 " || string(line[:9]) == "HTTP/1.0 ") ||
			!isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) || len(line) > 12 && line[12] != ' ' ||
			!fieldValue(line[12:]) {
			return fmt.Errorf("%w: status line %q", errBadResponse, truncate(line))
		}
		h.status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
		if line[7] == '0' {
			h.reuse = false
		}
		switch {
		case h.status < 100:
			return fmt.Errorf("%w: status %d", errBadResponse, h.status)
		case h.status == 101:
			return fmt.Errorf("%w: 101 Switching Protocols to a request that asked for no upgrade", errBadResponse)
		case h.status < 200 && n == maxInformational:
			return fmt.Errorf("%w: more than %d informational answers", errBadResponse, maxInformational)
		}
		h.out = append(append(h.out, line...), crlf...)
		if err := h.readFields(br); err != nil {
			return err
		}
		if h.status >= 200 {
			break
		}
		for _, name := range framingFields {
			h.drop([]byte(name))
		}
		for _, name := range h.conn {
			h.drop(name)
		}
		if info != nil && h.status != 100 {
			info.Write(h.out)
			info.Write(crlf)
			if err := flush(info); err != nil {
				return err
			}
		}
	}
	switch {
	case head || h.status == 204 || h.status == 304:
		h.framing = noBody
	case h.chunked:
		h.framing = chunkedBody
		h.length = -1
		h.drop([]byte("content-length"))
	case h.length >= 0:
		h.framing = lengthBody
	default:
		h.framing = closeBody
		h.reuse = false
	}
	if !h.chunked {
		h.drop([]byte("trailer"))
	}
	for _, n := range h.conn {
		if !isOneOf(n, framingFields) { // the answer's framing is the proxy's to keep, whatever Connection names
			h.drop(n)
		}
	}
	return nil
}

// responseHopFields concern only the slot's connection to the proxy, as do
// Connection and the fields it names: the client never gets them.
var responseHopFields = []string{"keep-alive", "proxy-connection", "proxy-authenticate", "te", "upgrade"}

// framingFields frame a final answer's body; an informational answer has
// none, so it is passed on without them.
var framingFields = []string{"content-length", "transfer-encoding", "trailer"}

func isOneOf(name []byte, names []string) bool {
	for _, n := range names {
		if len(n) == len(name) && bytes.EqualFold(name, []byte(n)) {
			return true
		}
	}
	return false
}

// readFields reads a response head's fields up to the blank line, keeping
// all but the hop-by-hop ones and noting those that frame the body.
func (h *respHead) readFields(br *bufio.Reader) error {
	for {
		line, err := h.readLine(br)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		name, value, ok := fieldLine(line)
		if !ok {
			return fmt.Errorf("%w: field line %q", errBadResponse, truncate(line))
		}
		keep := true
		switch {
		case bytes.EqualFold(name, []byte("connection")):
			keep = false
			for _, tok := range bytes.Split(value, []byte(",")) {
				tok = trimOWS(tok)
				if bytes.EqualFold(tok, []byte("close")) {
					h.reuse = false
				} else if len(tok) > 0 {
					h.scratch = append(h.scratch, tok...)
					h.conn = append(h.conn, h.scratch[len(h.scratch)-len(tok):])
				}
			}
		case isOneOf(name, responseHopFields):
			keep = false
		case bytes.EqualFold(name, []byte("transfer-encoding")):
			if !bytes.EqualFold(value, []byte("chunked")) || h.chunked {
				return fmt.Errorf("%w: unsupported Transfer-Encoding %q", errBadResponse, truncate(value))
			}
			h.chunked = true
		case bytes.EqualFold(name, []byte("content-length")):
			n, ok := parseLength(value)
			if !ok || h.length >= 0 && h.length != n {
				return fmt.Errorf("%w: Content-Length %q", errBadResponse, truncate(value))
			}
			if h.length >= 0 {
				keep = false // the same value again
			}
			h.length = n
		case bytes.EqualFold(name, []byte("x-request-id")):
			h.hasID = true
		}
		if keep {
			start := len(h.out)
			h.out = append(append(h.out, line...), crlf...)
			h.spans = append(h.spans, [2]int{start, len(h.out)})
		}
	}
}

// readLine reads one line of the head, within maxAnswerHead.
func (h *respHead) readLine(br *bufio.Reader) ([]byte, error) {
	line, err := readLine(br)
	h.size += len(line) + 2
	if err == nil && h.size > maxAnswerHead {
		return nil, fmt.Errorf("%w: head longer than %d bytes", errBadResponse, maxAnswerHead)
	}
	return line, err
}

// fieldLine splits a field line (of a head or a trailer) into its name and
// its value without surrounding spaces, as strictly as net/http reads one:
// the name a token, no control bytes in the value (a bare CR, NUL…).
func fieldLine(line []byte) (name, value []byte, ok bool) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !isToken(line[:colon]) || !fieldValue(line[colon+1:]) {
		return nil, nil, false
	}
	return line[:colon], trimOWS(line[colon+1:]), true
}

// chunkLine reads a chunk-size line: hex digits, then optional extensions,
// which may hold no control bytes; they are passed on as they are.
func chunkLine(line []byte) (int64, error) {
	size, ext := line, []byte(nil)
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		size, ext = line[:i], line[i+1:]
	}
	n, ok := parseHex(trimOWS(size))
	if !ok || !fieldValue(ext) {
		return 0, fmt.Errorf("%w: chunk size line %q", errBadResponse, truncate(line))
	}
	return n, nil
}

// trailers checks the trailer section of a chunked body line by line: field
// lines, within maxAnswerHead in all.
type trailers struct{ size int }

// line checks one trailer line (without its line ending); the empty line
// ends the section.
func (t *trailers) line(l []byte) error {
	t.size += len(l) + 2
	if t.size > maxAnswerHead {
		return fmt.Errorf("%w: trailers longer than %d bytes", errBadResponse, maxAnswerHead)
	}
	if _, _, ok := fieldLine(l); len(l) > 0 && !ok {
		return fmt.Errorf("%w: trailer line %q", errBadResponse, truncate(l))
	}
	return nil
}

// drop removes the fields called name from the head.
func (h *respHead) drop(name []byte) {
	for i := len(h.spans) - 1; i >= 0; i-- {
		s := h.spans[i]
		f := h.out[s[0]:s[1]]
		if len(f) > len(name) && f[len(name)] == ':' && bytes.EqualFold(f[:len(name)], name) {
			h.out = append(h.out[:s[0]], h.out[s[1]:]...)
			for j := i + 1; j < len(h.spans); j++ {
				h.spans[j][0] -= s[1] - s[0]
				h.spans[j][1] -= s[1] - s[0]
			}
			h.spans = append(h.spans[:i], h.spans[i+1:]...)
		}
	}
}

// readLine reads one line without its line ending (CRLF or a bare LF, as
// net/http's client accepts). The slice is valid until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: line longer than %d bytes", errBadResponse, br.Size())
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

// copyChunked copies a chunked body with its trailers as it comes, flushing
// whenever the slot has nothing more buffered, so streams reach the client
// at once. It returns the bytes of data (without the chunk framing).
func copyChunked(dst *bufio.Writer, src *bufio.Reader) (int64, error) {
	var total int64
	for {
		line, err := readLine(src)
		if err != nil {
			return total, err
		}
		n, err := chunkLine(line)
		if err != nil {
			return total, err
		}
		dst.Write(line)
		dst.Write(crlf)
		if n == 0 {
			var tr trailers
			for { // trailers, then the blank line
				l, err := readLine(src)
				if err == nil {
					err = tr.line(l)
				}
				if err != nil {
					return total, err
				}
				dst.Write(l)
				if _, err := dst.Write(crlf); err != nil {
					return total, errWrite{err}
				}
				if len(l) == 0 {
					return total, flush(dst)
				}
			}
		}
		if _, err := pump(dst, src, n); err != nil {
			return total, err
		}
		total += n
		l, err := readLine(src)
		if err != nil {
			return total, err
		}
		if len(l) != 0 {
			return total, fmt.Errorf("%w: chunk not followed by CRLF", errBadResponse)
		}
		if _, err := dst.Write(crlf); err != nil {
			return total, errWrite{err}
		}
		if src.Buffered() == 0 {
			if err := flush(dst); err != nil {
				return total, err
			}
		}
	}
}

func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}

// errWrite marks a failure to write to the destination of a copy (as
// opposed to reading its source): the client's connection for a response,
// the slot's for a request body.
type errWrite struct{ error }

func (e errWrite) Unwrap() error { return e.error }

func isWriteErr(err error) bool {
	var w errWrite
	return errors.As(err, &w)
}

func flush(w *bufio.Writer) error {
	if err := w.Flush(); err != nil {
		return errWrite{err}
	}
	return nil
}

// pump copies n bytes (all until EOF when n < 0) from src to dst, flushing
// dst before every read that may wait, so a slow stream is passed on as it
// comes and a fast one in full buffers.
func pump(dst *bufio.Writer, src *bufio.Reader, n int64) (int64, error) {
	var done int64
	for n < 0 || done < n {
		if src.Buffered() == 0 {
			if err := flush(dst); err != nil {
				return done, err
			}
			if _, err := src.Peek(1); err != nil {
				if n < 0 && errors.Is(err, io.EOF) {
					return done, nil
				}
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return done, err
			}
		}
		k := src.Buffered()
		if n >= 0 && int64(k) > n-done {
			k = int(n - done)
		}
		b, _ := src.Peek(k)
		if _, err := dst.Write(b); err != nil {
			return done, errWrite{err}
		}
		src.Discard(k)
		done += int64(k)
	}
	return done, nil
}
