package state

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/syncer-dev/syncer/internal/fsutil"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	storage "google.golang.org/api/storage/v1"
)

// GCS is a Store, and a Locker, in a Cloud Storage bucket: each document is
// the object PREFIX/NAME, its version the object's generation. A write
// names the generation it read (ifGenerationMatch, 0 for "must not
// exist"), so two runs never lose each other's update.
//
// The official storage/v1 client of google.golang.org/api is used, the
// same library as the Chat and Directory clients: no second HTTP stack,
// and every call goes through the deadlines and retry classes below.
type GCS struct {
	Bucket, Prefix string // Prefix is "" or ends with "/"
	svc            *storage.Service
	// CallTimeout bounds each call; Attempts bounds the tries of one that
	// fails transiently (5xx, 429, a reset, a timeout).
	CallTimeout time.Duration
	Attempts    int

	bucketMu   sync.Mutex
	bucketSeen bool // a call showed the bucket exists
}

var _ Store = (*GCS)(nil)

// ParseLocation splits gs://BUCKET/PREFIX; ok is false for anything that is
// not a gs:// location. A malformed one is an error saying what is wrong.
//
// A location that looks like a URL of another kind (https://, s3://, GS://,
// gs:/x) is an error too, never a local folder by that name: on a runner
// whose disk is thrown away, that would lose the state and the lock.
func ParseLocation(loc string) (bucket, prefix string, ok bool, err error) {
	rest, isGS := strings.CutPrefix(loc, "gs://")
	if !isGS {
		if scheme := urlScheme.FindString(loc); scheme != "" {
			if strings.EqualFold(strings.TrimRight(scheme, ":/"), "gs") {
				return "", "", true, fmt.Errorf("%q: a Cloud Storage location is written gs://BUCKET/PREFIX", loc)
			}
			return "", "", true, fmt.Errorf("%q: state is kept in a local folder or in Cloud Storage as gs://BUCKET/PREFIX; %q locations are not supported", loc, strings.TrimRight(scheme, ":/"))
		}
		return "", "", false, nil
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if err := checkBucket(bucket); err != nil {
		return "", "", true, fmt.Errorf("%q: %q is not a bucket name: %v", loc, bucket, err)
	}
	prefix = strings.Trim(prefix, "/")
	if len(prefix) > maxPrefix {
		return "", "", true, fmt.Errorf("%q: the prefix is %d bytes; object names hold at most 1,024, so keep it under %d", loc, len(prefix), maxPrefix)
	}
	for _, part := range strings.Split(prefix, "/") {
		if prefix != "" && (part == "" || part == "." || part == ".." || strings.ContainsAny(part, "\r\n#[]*?")) {
			return "", "", true, fmt.Errorf("%q: the prefix %q has an empty, '.' or '..' part or a character Cloud Storage names should not hold", loc, prefix)
		}
	}
	if prefix != "" {
		prefix += "/"
	}
	return bucket, prefix, true, nil
}

// maxPrefix leaves room, in Cloud Storage's 1,024 bytes, for the
// documents' own names.
const maxPrefix = 960

var (
	// urlScheme is a location's scheme, if it has one (two letters or more,
	// so that C:/ stays a path).
	urlScheme  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]+:/+`)
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*[a-z0-9]$`)
	ipAddress  = regexp.MustCompile(`^[0-9]{1,3}(\.[0-9]{1,3}){3}$`)
)

// checkBucket applies Cloud Storage's naming rules: 3-63 characters of
// lower-case letters, digits, '-', '_' and '.', starting and ending with a
// letter or digit; up to 222 with dots, each dot-separated part at most 63;
// not an IP address; not starting with "goog" or holding "google".
func checkBucket(b string) error {
	const rule = "3-63 lower-case letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
	switch {
	case len(b) < 3 || !bucketName.MatchString(b):
		return errors.New(rule)
	case strings.Contains(b, ".."):
		return errors.New("it has '..'")
	case !strings.Contains(b, ".") && len(b) > 63:
		return errors.New(rule)
	case len(b) > 222:
		return errors.New("more than 222 characters")
	case ipAddress.MatchString(b):
		return errors.New("it is an IP address")
	case strings.HasPrefix(b, "goog") || strings.Contains(b, "google"):
		return errors.New(`Google reserves names that start with "goog" or hold "google"`)
	}
	for _, part := range strings.Split(b, ".") {
		if len(part) > 63 {
			return errors.New("a dot-separated part is longer than 63 characters")
		}
	}
	return nil
}

// EmulatorHost is STORAGE_EMULATOR_HOST as Google's client libraries read
// it ("host:port" or "http://host:port"), as a base URL, or "".
func EmulatorHost() string {
	h := strings.TrimSpace(os.Getenv("STORAGE_EMULATOR_HOST"))
	if h == "" {
		return ""
	}
	if !strings.Contains(h, "://") {
		h = "http://" + h
	}
	// Some write the JSON API's base path too; the client adds it.
	h = strings.TrimSuffix(strings.TrimSuffix(h, "/"), "/storage/v1")
	return strings.TrimSuffix(h, "/") + "/"
}

// NewGCS opens a bucket location. client carries the credentials (nil:
// none, for STORAGE_EMULATOR_HOST); endpoint "" is Google's, or the
// emulator's when STORAGE_EMULATOR_HOST is set.
func NewGCS(ctx context.Context, loc string, client *http.Client, callTimeout time.Duration) (*GCS, error) {
	bucket, prefix, ok, err := ParseLocation(loc)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%q is not a gs:// location", loc)
	}
	var opts []option.ClientOption
	if host := EmulatorHost(); host != "" {
		opts = append(opts, option.WithEndpoint(host+"storage/v1/"), option.WithoutAuthentication())
		var base http.RoundTripper
		if client != nil {
			base = client.Transport
		}
		opts = append(opts, option.WithHTTPClient(&http.Client{Transport: boundedAnswers{base: base}}))
	} else if client != nil {
		c := *client
		c.Transport = boundedAnswers{base: client.Transport}
		opts = append(opts, option.WithHTTPClient(&c))
	} else {
		return nil, errors.New("Cloud Storage needs credentials (or STORAGE_EMULATOR_HOST for an emulator)")
	}
	svc, err := storage.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("cloud storage client: %w", err)
	}
	if callTimeout <= 0 {
		callTimeout = 30 * time.Second
	}
	return &GCS{Bucket: bucket, Prefix: prefix, svc: svc, CallTimeout: callTimeout, Attempts: 5}, nil
}

// Where is the location, gs://BUCKET/PREFIX.
func (g *GCS) Where() string {
	if g.Prefix == "" {
		return "gs://" + g.Bucket
	}
	return "gs://" + g.Bucket + "/" + strings.TrimSuffix(g.Prefix, "/")
}

func (g *GCS) object(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name[0] == '.' {
		return "", fmt.Errorf("state document name %q", name)
	}
	return g.Prefix + name, nil
}

func (g *GCS) uri(object string) string { return "gs://" + g.Bucket + "/" + object }

// Read reads a document at one generation; a missing one is ErrNotExist.
// Anything else that keeps it from being read is an error naming the
// object, never "no document".
func (g *GCS) Read(ctx context.Context, name string) ([]byte, string, error) {
	object, err := g.object(name)
	if err != nil {
		return nil, "", err
	}
	var data []byte
	var gen int64
	err = g.call(ctx, "read "+g.uri(object), func(ctx context.Context) error {
		meta, err := g.svc.Objects.Get(g.Bucket, object).Context(ctx).Fields("generation,size").Do()
		if err != nil {
			return err
		}
		if meta.Size > maxDocument {
			return permanent(fmt.Errorf("%d bytes, more than a state document may hold", meta.Size))
		}
		resp, err := g.svc.Objects.Get(g.Bucket, object).Generation(meta.Generation).Context(ctx).Download()
		if code(err) == http.StatusNotFound {
			// That generation was replaced or deleted between the two
			// requests (another run saved): read again, never "absent".
			return errChangedWhileRead
		}
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		// The body is read under the call's deadline (the request's
		// context), and never past what a document may hold, into a
		// buffer of the size the object says it has (a big tenant's
		// identity cache is tens of megabytes: grown as it comes, it
		// would be copied a dozen times).
		body, err := fsutil.ReadAtMost(resp.Body, int64(meta.Size), maxDocument)
		if errors.Is(err, fsutil.ErrTooLarge) {
			return permanent(fmt.Errorf("more than the %d bytes a state document may hold", maxDocument))
		}
		if err != nil {
			return err
		}
		data, gen = body, meta.Generation
		return nil
	})
	if errors.Is(err, ErrNotExist) {
		if berr := g.bucketExists(ctx); berr != nil {
			return nil, "", berr
		}
		return nil, "", ErrNotExist
	}
	if err != nil {
		return nil, "", err
	}
	return data, strconv.FormatInt(gen, 10), nil
}

var errChangedWhileRead = errors.New("the object changed while it was read")

// bucketExists tells an absent document from an absent bucket (a typo in
// state.location, a bucket not made yet), which must never be taken for
// "no previous state". It lists objects (what roles/storage.objectUser
// allows; buckets.get needs more), once per run.
func (g *GCS) bucketExists(ctx context.Context) error {
	g.bucketMu.Lock()
	defer g.bucketMu.Unlock()
	if g.bucketSeen {
		return nil
	}
	err := g.call(ctx, "list gs://"+g.Bucket, func(ctx context.Context) error {
		_, err := g.svc.Objects.List(g.Bucket).Prefix(g.Prefix).MaxResults(1).Fields("kind").Context(ctx).Do()
		return err
	})
	switch {
	case errors.Is(err, ErrNotExist):
		return g.noBucket()
	case err != nil:
		return err
	}
	g.bucketSeen = true
	return nil
}

func (g *GCS) noBucket() error {
	return fmt.Errorf("state %s: the bucket %s does not exist (check state.location, or create the bucket)", g.Where(), g.Bucket)
}

// Write replaces a document if it is still at ifVersion ("": it must not
// exist). A write whose answer was lost and whose retry is then refused
// is recognised by its content, so it is not reported as a conflict.
func (g *GCS) Write(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	object, err := g.object(name)
	if err != nil {
		return "", err
	}
	var want int64
	if ifVersion != "" {
		if want, err = strconv.ParseInt(ifVersion, 10, 64); err != nil {
			return "", fmt.Errorf("state %s: version %q is not a generation", g.uri(object), ifVersion)
		}
	}
	sum := md5.Sum(data)
	md5b64 := base64.StdEncoding.EncodeToString(sum[:])
	var gen int64
	tries := 0
	err = g.call(ctx, "write "+g.uri(object), func(ctx context.Context) error {
		tries++
		o, err := g.svc.Objects.Insert(g.Bucket, &storage.Object{Name: object, ContentType: "application/json", Md5Hash: md5b64}).
			IfGenerationMatch(want).Media(bytes.NewReader(data), googleapi.ChunkSize(0)).Context(ctx).Fields("generation").Do()
		if err != nil {
			if code(err) == http.StatusPreconditionFailed && tries > 1 {
				// Our own earlier try may have landed.
				meta, gerr := g.svc.Objects.Get(g.Bucket, object).Context(ctx).Fields("generation,md5Hash").Do()
				if gerr == nil && meta.Md5Hash == md5b64 {
					gen = meta.Generation
					return nil
				}
			}
			return err
		}
		gen = o.Generation
		return nil
	})
	if errors.Is(err, ErrNotExist) {
		return "", g.noBucket() // an upload is refused 404 only for that
	}
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(gen, 10), nil
}

// call runs one Cloud Storage call with its own deadline, retrying what
// may pass on a second try, and classifies what it can't.
func (g *GCS) call(ctx context.Context, what string, f func(context.Context) error) error {
	attempts := max(1, g.Attempts)
	var err error
	for attempt := 1; ; attempt++ {
		callCtx, cancel := context.WithTimeout(ctx, g.CallTimeout)
		err = f(callCtx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("state %s: stopped: %w", what, context.Cause(ctx))
		}
		var p *permanentError
		switch c := code(err); {
		case errors.As(err, &p):
			return fmt.Errorf("state %s: %v", what, p.err)
		case c == http.StatusNotFound:
			return ErrNotExist
		case c == http.StatusPreconditionFailed:
			return fmt.Errorf("%w: %s changed since this run read it", ErrConflict, strings.TrimPrefix(strings.TrimPrefix(what, "write "), "read "))
		case c == http.StatusUnauthorized:
			return fmt.Errorf("state %s: refused (401): the credentials were not accepted (expired or revoked?): %v", what, short(err))
		case c == http.StatusForbidden:
			return fmt.Errorf("state %s: refused (403): the run's identity needs roles/storage.objectUser on bucket %s: %v", what, g.Bucket, short(err))
		case c >= 400 && c < 500 && c != http.StatusTooManyRequests && c != http.StatusRequestTimeout:
			return fmt.Errorf("state %s: %v", what, short(err))
		}
		if attempt >= attempts {
			return fmt.Errorf("state %s: gave up after %d attempts: %v", what, attempt, short(err))
		}
		delay := time.Duration(rand.Int64N(int64(200*time.Millisecond) << min(attempt, 5)))
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return fmt.Errorf("state %s: stopped: %w", what, context.Cause(ctx))
		}
	}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }

func permanent(err error) error { return &permanentError{err} }

func code(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

// short is an error's message without the response body Google may attach.
func short(err error) string {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		if ge.Message != "" {
			return fmt.Sprintf("%d %s", ge.Code, ge.Message)
		}
		return fmt.Sprintf("%d %s", ge.Code, http.StatusText(ge.Code))
	}
	return err.Error()
}

// LockInfo is who holds a lock, as the lock object says.
type LockInfo struct {
	RunID   string    `json:"run_id"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Config  string    `json:"config"`
	Started time.Time `json:"started"`
	// LeaseSeconds is how long the holder may keep it from Started; after
	// that a crashed holder's lock may be taken over.
	LeaseSeconds float64   `json:"lease_seconds"`
	LeaseEnds    time.Time `json:"lease_ends"`
}

func (l LockInfo) String() string {
	return fmt.Sprintf("run %s on %s (pid %d) since %s; its lease ends %s", l.RunID, l.Host, l.PID,
		l.Started.UTC().Format(time.RFC3339), l.LeaseEnds.UTC().Format(time.RFC3339))
}

// ErrLocked is returned, wrapped, when another run holds the lock.
var ErrLocked = errors.New("the lock is held by another run")

// ErrLockLost means this run no longer holds its lock: it must not write.
var ErrLockLost = errors.New("this run's lock is gone")

// Lock is a held lock.
type Lock interface {
	// Check returns ErrLockLost (wrapped) when the lock is no longer ours.
	Check(ctx context.Context) error
	// Release gives it up, if it is still ours.
	Release(ctx context.Context) error
}

// gcsLock is the lock object, held at one generation.
type gcsLock struct {
	g          *GCS
	object     string
	generation int64
	info       LockInfo
	tookOver   *LockInfo // the expired lock this one replaced
}

// Lock takes the lock object PREFIX/lock: created only if absent
// (ifGenerationMatch=0); held by another run, it is ErrLocked naming the
// holder; held by a run whose lease has ended (a crash), it is taken over
// with a precondition on that generation, so of two runs racing for it
// one wins. now is the clock (nil: time.Now).
func (g *GCS) Lock(ctx context.Context, info LockInfo, lease time.Duration, now func() time.Time) (Lock, error) {
	if now == nil {
		now = time.Now
	}
	object := g.Prefix + "lock"
	info.Started = now().UTC()
	info.LeaseSeconds = lease.Seconds()
	info.LeaseEnds = info.Started.Add(lease)
	data, err := json.MarshalIndent(info, "", " ")
	if err != nil {
		return nil, err
	}
	take := func(ifGeneration int64) (int64, error) {
		var gen int64
		tries := 0
		err := g.call(ctx, "lock "+g.uri(object), func(ctx context.Context) error {
			tries++
			o, err := g.svc.Objects.Insert(g.Bucket, &storage.Object{Name: object, ContentType: "application/json"}).
				IfGenerationMatch(ifGeneration).Media(bytes.NewReader(data), googleapi.ChunkSize(0)).Context(ctx).Fields("generation").Do()
			if err != nil {
				if code(err) == http.StatusPreconditionFailed && tries > 1 {
					// Did our own earlier try take it?
					if held, hgen, herr := g.readLock(ctx, object); herr == nil && held.RunID == info.RunID {
						gen = hgen
						return nil
					}
				}
				return err
			}
			gen = o.Generation
			return nil
		})
		if errors.Is(err, ErrNotExist) {
			return 0, g.noBucket()
		}
		return gen, err
	}
	gen, err := take(0)
	if err == nil {
		return &gcsLock{g: g, object: object, generation: gen, info: info}, nil
	}
	if !errors.Is(err, ErrConflict) {
		return nil, err
	}
	held, heldGen, err := g.readLock(ctx, object)
	switch {
	case errors.Is(err, ErrNotExist):
		// Released between our try and our look: try once more.
		if gen, err = take(0); err == nil {
			return &gcsLock{g: g, object: object, generation: gen, info: info}, nil
		}
		if errors.Is(err, ErrConflict) {
			return nil, fmt.Errorf("%w: %s was taken by another run just now", ErrLocked, g.uri(object))
		}
		return nil, err
	case err != nil:
		return nil, err
	case now().Before(held.LeaseEnds):
		return nil, fmt.Errorf("%w: %s: %s", ErrLocked, g.uri(object), held)
	}
	// The holder's lease has ended: it crashed or was killed. Take over,
	// on the condition that nobody else did first.
	gen, err = take(heldGen)
	if errors.Is(err, ErrConflict) {
		return nil, fmt.Errorf("%w: %s: another run took over the expired lock of %s first", ErrLocked, g.uri(object), held)
	}
	if err != nil {
		return nil, err
	}
	return &gcsLock{g: g, object: object, generation: gen, info: info, tookOver: &held}, nil
}

func (g *GCS) readLock(ctx context.Context, object string) (LockInfo, int64, error) {
	var info LockInfo
	data, version, err := g.Read(ctx, strings.TrimPrefix(object, g.Prefix))
	if err != nil {
		return info, 0, err
	}
	if err := json.Unmarshal(data, &info); err != nil || info.LeaseEnds.IsZero() {
		// Not a lock this syncer wrote: never taken over on a guess.
		return LockInfo{RunID: "?", Host: "?", LeaseEnds: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, 0,
			fmt.Errorf("%w: %s is not a lock object this syncer wrote; remove it if no run is going", ErrLocked, g.uri(object))
	}
	gen, _ := strconv.ParseInt(version, 10, 64)
	return info, gen, nil
}

// TookOver is the lock this run took over, if its holder's lease had ended.
func TookOver(l Lock) *LockInfo {
	if gl, ok := l.(*gcsLock); ok {
		return gl.tookOver
	}
	return nil
}

// Check asks Cloud Storage whether the lock object is still the one this
// run wrote (same generation).
func (l *gcsLock) Check(ctx context.Context) error {
	var gen int64
	err := l.g.call(ctx, "lock check "+l.g.uri(l.object), func(ctx context.Context) error {
		meta, err := l.g.svc.Objects.Get(l.g.Bucket, l.object).Context(ctx).Fields("generation").Do()
		if err != nil {
			return err
		}
		gen = meta.Generation
		return nil
	})
	switch {
	case errors.Is(err, ErrNotExist):
		return fmt.Errorf("%w: %s was deleted", ErrLockLost, l.g.uri(l.object))
	case err != nil:
		return err
	case gen != l.generation:
		return fmt.Errorf("%w: %s was replaced (another run took it)", ErrLockLost, l.g.uri(l.object))
	}
	return nil
}

// Release deletes the lock object if it is still this run's: a delete on
// the condition of its generation, after checking the generation itself
// (some emulators ignore the condition on a delete).
func (l *gcsLock) Release(ctx context.Context) error {
	if err := l.Check(ctx); err != nil {
		return err
	}
	err := l.g.call(ctx, "unlock "+l.g.uri(l.object), func(ctx context.Context) error {
		return l.g.svc.Objects.Delete(l.g.Bucket, l.object).IfGenerationMatch(l.generation).Context(ctx).Do()
	})
	if errors.Is(err, ErrNotExist) || errors.Is(err, ErrConflict) {
		return fmt.Errorf("%w: %s changed before it could be released", ErrLockLost, l.g.uri(l.object))
	}
	return err
}
