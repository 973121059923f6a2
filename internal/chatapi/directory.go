package chatapi

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

// DirectoryUser is what identity resolution needs from a Directory user.
type DirectoryUser struct {
	ID           string
	PrimaryEmail string // lower-cased
	Aliases      []string
	Suspended    bool
	// Archived: an archived user (Archived User licence) can't use Chat.
	Archived    bool
	OrgUnitPath string
}

// GroupMember is one member of a Directory group.
type GroupMember struct {
	ID    string
	Email string // lower-cased
	// Type is USER, GROUP or CUSTOMER (everyone in the domain, no email).
	Type string
	// Status is ACTIVE, SUSPENDED, ARCHIVED... (users only).
	Status string
}

// GroupPageSize is the largest page members.list serves.
const GroupPageSize = 200

// DirectoryPageSize is the largest page users.list serves.
const DirectoryPageSize = 500

// userFields is what identity resolution reads of a Directory user: a full
// user is kilobytes, these are a few dozen bytes.
const userFields = "id,primaryEmail,aliases,nonEditableAliases,suspended,archived,orgUnitPath"

// Directory calls the Admin SDK Directory API (users only, read-only).
type Directory struct {
	svc *admin.Service
	// hc and userAgent serve users.list, decoded here (see UsersPage).
	hc        *http.Client
	userAgent string
	// disabled is the first answer saying the Admin SDK API is not
	// enabled in the project, or that its quota is gone for good (see
	// exhausted): every later call fails with it, unsent.
	disabled atomic.Pointer[Error]
	// For a quota that refuses every call: the refusals since the last
	// answer that was not one, when the first of them came (UnixNano),
	// and how long refusals alone end the Directory for the run. The
	// time counts from the first refusal, not the last answer: a run
	// that asked nothing for minutes (listing spaces) and then meets one
	// burst of refusals has not been refused for minutes.
	refusals     atomic.Int64
	firstRefusal atomic.Int64
	giveUpAfter  time.Duration
}

// directoryGiveUpWindows is how many of the quota's windows (a minute at
// Google) of nothing but quota refusals end the Directory for a run: its
// quota refills every window, so refusals that outlast two are another
// app taking all of it, and the run would otherwise wait out its
// deadline (an hour) for lookups that don't come.
const directoryGiveUpWindows = 2

// minGiveUpRefusals: so few refusals are no proof, however long apart.
const minGiveUpRefusals = 10

// answeredTransport notes every answer that is not a quota refusal.
type answeredTransport struct {
	base http.RoundTripper
	d    *Directory
}

func (t answeredTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(req)
	if err == nil && res.StatusCode != http.StatusTooManyRequests && res.StatusCode != http.StatusForbidden {
		t.d.refusals.Store(0)
	}
	return res, err
}

// exhausted is a quota refusal after the Directory has refused every
// call for giveUpAfter: the run asks no more, and every lookup left fails
// as for a Directory that fails (removals that needed one are held).
func (d *Directory) exhausted(e *Error) error {
	now := time.Now()
	n := d.refusals.Add(1)
	if n == 1 {
		d.firstRefusal.Store(now.UnixNano())
	}
	since := now
	if first := d.firstRefusal.Load(); n > 1 && first > 0 && first < now.UnixNano() {
		since = time.Unix(0, first)
	}
	quiet := now.Sub(since)
	if n < minGiveUpRefusals || quiet < d.giveUpAfter {
		return e
	}
	off := *e
	off.kind, off.Code, off.GaveUp = ErrPermanent, 0, true // no answer about the user asked: a lookup that failed
	off.Message = fmt.Sprintf("the Directory refused every call for its quota for %v (%d refusals in a row; the last: %s): no more Directory calls this run, and the lookups left fail (another app may be taking the whole quota)",
		quiet.Round(time.Second), n, e.Message)
	d.disabled.CompareAndSwap(nil, &off)
	return d.disabled.Load()
}

// wrap classifies a Directory call's error. An Admin SDK API not enabled
// in the project is no reason to stop the run (lookups that fail hold
// removals and make the plan incomplete; a rule that fails stops the run
// before any write, as for any failing Directory), but no Directory call
// can succeed: it is remembered, so the run asks no more and every later
// call fails with the same message, which says what to do.
func (d *Directory) wrap(ctx context.Context, err error) error {
	werr := wrap(ctx, err)
	var e *Error
	if errors.As(werr, &e) && errors.Is(werr, ErrQuota) {
		return d.exhausted(e)
	}
	if errors.As(werr, &e) && e.Code == http.StatusForbidden && !e.Disabled {
		// A refusal of this call (not authorized for this user), not of
		// the quota: the Directory answers (the transport can't tell
		// the two 403s apart).
		d.refusals.Store(0)
	}
	if !errors.As(werr, &e) || !e.Disabled {
		return werr
	}
	off := *e
	off.kind = ErrPermanent
	off.Message += " (or, if no Directory rule needs it, set identity.directory: false)"
	d.disabled.CompareAndSwap(nil, &off)
	return d.disabled.Load()
}

// GaveUp says why the run asks the Directory no more for its quota
// (every call refused for two of its windows), or "".
func (d *Directory) GaveUp() string {
	if e := d.disabled.Load(); e != nil && e.GaveUp {
		return e.Message
	}
	return ""
}

// off is the remembered "Admin SDK API not enabled", or nil.
func (d *Directory) off() error {
	if e := d.disabled.Load(); e != nil {
		return e
	}
	return nil
}

// NewDirectory builds a Directory client. An empty endpoint keeps Google's.
func NewDirectory(ctx context.Context, endpoint string, opts Options) (*Directory, error) {
	var o []option.ClientOption
	if endpoint != "" {
		o = append(o, option.WithEndpoint(endpoint))
	}
	// Without a client (the emulator): no authentication. Either way every
	// answer's body is bounded.
	d := &Directory{userAgent: opts.UserAgent, giveUpAfter: directoryGiveUpWindows * cmp.Or(opts.QuotaWindow, time.Minute)}
	hc := wrapTransport(bounded(opts.HTTPClient), func(base http.RoundTripper) http.RoundTripper { return answeredTransport{base: base, d: d} })
	o = append(o, option.WithHTTPClient(hc))
	svc, err := admin.NewService(ctx, o...)
	if err != nil {
		return nil, fmt.Errorf("directory client: %w", err)
	}
	d.svc, d.hc = svc, hc
	return d, nil
}

// User looks a user up by primary email, alias or ID.
func (d *Directory) User(ctx context.Context, key string) (DirectoryUser, error) {
	if err := d.off(); err != nil {
		return DirectoryUser{}, err
	}
	u, err := d.svc.Users.Get(key).Context(ctx).Fields(userFields).Do()
	if err != nil {
		return DirectoryUser{}, d.wrap(ctx, err)
	}
	return directoryUser(u), nil
}

// UsersPage returns one page (500) of the customer's users matching query
// (the Directory's query language; "" for everyone), sorted by primary
// email: the identity pass splits a long query by what it has not reached
// yet. A big tenant's pass is thousands of pages, so the page is decoded
// here into the few fields asked for (decodeUsersPage; the generated
// client decodes each user into a struct of a hundred fields: most of the
// pass's CPU and garbage); the request is the one the generated client
// sends.
func (d *Directory) UsersPage(ctx context.Context, query, pageToken string) ([]DirectoryUser, string, error) {
	if err := d.off(); err != nil {
		return nil, "", err
	}
	params := url.Values{"customer": {"my_customer"}, "maxResults": {strconv.Itoa(DirectoryPageSize)}, "orderBy": {"email"},
		"fields": {"nextPageToken,users(" + userFields + ")"}, "alt": {"json"}, "prettyPrint": {"false"}}
	if query != "" {
		params.Set("query", query)
	}
	if pageToken != "" {
		params.Set("pageToken", pageToken)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.svc.BasePath+"admin/directory/v1/users?"+params.Encode(), nil)
	if err != nil {
		return nil, "", fmt.Errorf("users.list: %w", err)
	}
	if d.userAgent != "" {
		req.Header.Set("User-Agent", d.userAgent)
	}
	res, err := d.hc.Do(req)
	if err != nil {
		return nil, "", d.wrap(ctx, err)
	}
	defer res.Body.Close()
	if err := googleapi.CheckResponse(res); err != nil {
		return nil, "", d.wrap(ctx, err)
	}
	buf := pageBuffers.get()
	defer pageBuffers.put(buf)
	if err := readPage(buf, res.Body, "users.list"); err != nil {
		return nil, "", d.wrap(ctx, err)
	}
	users, next, err := decodeUsersPage(buf.Bytes())
	if err != nil {
		return nil, "", d.wrap(ctx, err)
	}
	return users, next, nil
}

// pageBuffers hold users.list and members.list answers while they are
// decoded (a page is ~100 KB; the decoders copy what they keep out of it).
// Reused, a million-membership run spends 0.4 s less CPU growing them. Not
// a sync.Pool: every second collection empties one, and such a run
// collects every few dozen megabytes, so its buffers were grown (and their
// memory cleared) again and again: 76 MB of the run's 1.2 GB of garbage.
var pageBuffers = bufferList{free: make(chan *bytes.Buffer, 512)}

// bufferList keeps up to cap(free) buffers between pages.
type bufferList struct{ free chan *bytes.Buffer }

func (l bufferList) get() *bytes.Buffer {
	select {
	case b := <-l.free:
		return b
	default:
		return new(bytes.Buffer)
	}
}

// put keeps b for another page, unless it grew past what pages need (an
// answer near maxPageBytes is refused anyway) or enough are kept.
func (l bufferList) put(b *bytes.Buffer) {
	if b.Cap() > maxKeptBuffer {
		return
	}
	select {
	case l.free <- b:
	default:
	}
}

// maxKeptBuffer: a page of 1,000 memberships with long names is ~200 KB.
const maxKeptBuffer = 256 << 10

// maxPageBytes bounds one page's answer: 500 users of a few fields are
// ~100 KB, 1,000 memberships ~150 KB; a few aliases each, well under this.
// Every call asks for a few fields. A page is read into a buffer that
// grows by doubling: at 64 MiB, ten garbage answers in flight held 755 MB.
const maxPageBytes = 8 << 20

// readPage reads a page's answer into buf (emptied first). An answer over
// maxPageBytes is no page Google sends for the fields asked: the call
// fails, and a retry would get the same.
func readPage(buf *bytes.Buffer, body io.Reader, method string) error {
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(body, maxPageBytes+1)); err != nil {
		return fmt.Errorf("%s: reading the answer: %w", method, err)
	}
	if buf.Len() > maxPageBytes {
		return &Error{Message: fmt.Sprintf("%s: the answer is over %d MiB, more than any page of the fields asked", method, maxPageBytes>>20), kind: ErrPermanent}
	}
	return nil
}

// lowerAll lower-cases aliases and nonEditableAliases (addresses in the
// customer's alias domains: people use them as much as their own aliases).
func lowerAll(lists ...[]string) []string {
	var out []string
	for _, list := range lists {
		for _, a := range list {
			out = append(out, strings.ToLower(a))
		}
	}
	return out
}

func directoryUser(u *admin.User) DirectoryUser {
	du := DirectoryUser{ID: u.Id, PrimaryEmail: strings.ToLower(u.PrimaryEmail), Suspended: u.Suspended, Archived: u.Archived, OrgUnitPath: u.OrgUnitPath}
	du.Aliases = lowerAll(u.Aliases, u.NonEditableAliases)
	return du
}

// OwnsDomain tells whether domain is one of the customer's: users.list
// for that domain alone answers (with users or none) only for a domain the
// customer has, and refuses another: 400, 404 "Domain not found", or 403
// "Not Authorized to access this resource/api", which is returned as an
// error, since a caller who may not list users gets it too. users.get
// can't tell: it answers 404 "Resource Not Found: userKey" for an address
// nobody has in either.
func (d *Directory) OwnsDomain(ctx context.Context, domain string) (bool, error) {
	if err := d.off(); err != nil {
		return false, err
	}
	_, err := d.svc.Users.List().Domain(domain).MaxResults(1).Fields("users(id)").Context(ctx).Do()
	if err == nil {
		return true, nil
	}
	werr := d.wrap(ctx, err)
	var ge *googleapi.Error
	if errors.As(err, &ge) && (ge.Code == http.StatusBadRequest || ge.Code == http.StatusNotFound) && !errors.Is(werr, ErrQuota) {
		return false, nil
	}
	return false, werr
}

// Group finds a group by email (or alias, or ID): its ID is what Chat's
// groups/{id} names.
func (d *Directory) Group(ctx context.Context, key string) (id, email string, err error) {
	if err := d.off(); err != nil {
		return "", "", err
	}
	g, err := d.svc.Groups.Get(key).Context(ctx).Fields("id,email").Do()
	if err != nil {
		return "", "", d.wrap(ctx, err)
	}
	return g.Id, strings.ToLower(g.Email), nil
}

// GroupMembersPage returns one page (200) of a group's members; nested adds
// the members of the groups in it.
func (d *Directory) GroupMembersPage(ctx context.Context, key string, nested bool, pageToken string) ([]GroupMember, string, error) {
	if err := d.off(); err != nil {
		return nil, "", err
	}
	call := d.svc.Members.List(key).MaxResults(GroupPageSize).Context(ctx).Fields("nextPageToken,members(id,email,type,status)")
	if nested {
		call = call.IncludeDerivedMembership(true)
	}
	if pageToken != "" {
		call = call.PageToken(pageToken)
	}
	resp, err := call.Do()
	if err != nil {
		return nil, "", d.wrap(ctx, err)
	}
	out := make([]GroupMember, 0, len(resp.Members))
	for _, m := range resp.Members {
		out = append(out, GroupMember{ID: m.Id, Email: strings.ToLower(m.Email), Type: m.Type, Status: m.Status})
	}
	return out, resp.NextPageToken, nil
}
