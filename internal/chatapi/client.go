// Package chatapi is the syncer's adapter over the Google Chat API: the only
// package that imports the generated client. It lists (paged), gets, creates,
// patches and deletes memberships, turns answers into membership values, and
// classifies errors. It never retries, waits or logs: callers do.
package chatapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	chat "google.golang.org/api/chat/v1"
	"google.golang.org/api/option"

	"github.com/syncer-dev/syncer/internal/membership"
)

// PageSize is the largest page the API serves.
const PageSize = 1000

// listFields trims a list page to what the syncer reads (fields is one of
// Google's system parameters, accepted by every method).
const listFields = "nextPageToken,memberships(name,state,role,member(name,email,type),groupMember(name))"

// Options configure a Client.
type Options struct {
	Endpoint   string       // base URL, with a trailing slash
	HTTPClient *http.Client // carries credentials; nil calls without authentication (emulator)
	// UseAdminAccess calls as a Workspace admin; lists then filter out apps,
	// as the API requires.
	UseAdminAccess bool
	// ShowInvited and ShowGroups need user authentication.
	ShowInvited, ShowGroups bool
	UserAgent               string
	// QuotaWindow is what the quotas are counted over (a minute at
	// Google; limits.quota_window): the Directory gives up after two of
	// nothing but refusals.
	QuotaWindow time.Duration
}

// Client calls the Chat API.
type Client struct {
	svc  *chat.Service
	opts Options
}

// New builds a client.
func New(ctx context.Context, opts Options) (*Client, error) {
	// The client given carries the credentials (none for an emulator);
	// list pages are read in front of its transport (memberspage.go).
	o := []option.ClientOption{option.WithEndpoint(opts.Endpoint), option.WithHTTPClient(withPageReader(bounded(opts.HTTPClient)))}
	if opts.UserAgent != "" {
		o = append(o, option.WithUserAgent(opts.UserAgent))
	}
	svc, err := chat.NewService(ctx, o...)
	if err != nil {
		return nil, fmt.Errorf("chat client: %w", err)
	}
	return &Client{svc: svc, opts: opts}, nil
}

// errCallerCancelled marks failures caused by the caller's own context.
var errCallerCancelled = errors.New("cancelled by the caller")

// IsCancelled reports whether err means the caller cancelled the call.
func IsCancelled(err error) bool { return errors.Is(err, errCallerCancelled) }

// wrap classifies a call's error. A cancelled context is the caller's doing;
// a context past its deadline is a call that took too long, which is a
// transient failure like any other timeout.
func wrap(ctx context.Context, err error) error {
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%w: %w", errCallerCancelled, ctx.Err())
	}
	return classify(err)
}

// Space returns a space's type and display name, without its members.
func (c *Client) Space(ctx context.Context, name string) (membership.SpaceState, error) {
	call := c.svc.Spaces.Get(name).Context(ctx)
	if c.opts.UseAdminAccess {
		call = call.UseAdminAccess(true)
	}
	s, err := call.Do()
	if err != nil {
		return membership.SpaceState{}, wrap(ctx, err)
	}
	return membership.SpaceState{Name: s.Name, Type: membership.SpaceType(s.SpaceType), DisplayName: s.DisplayName}, nil
}

// ListPage returns one page of a space's memberships and the next page's token.
func (c *Client) ListPage(ctx context.Context, space, pageToken string) ([]membership.Membership, string, error) {
	// Admin access must exclude apps; != BOT keeps group memberships.
	return listCall(ctx, space, c.membersList(ctx, space, pageToken, `member.type != "BOT"`, ""))
}

// OwnersPage returns one page of a space's owners (ROLE_MANAGER, people
// and groups; invitations only where ListPage shows them) and the next
// page's token.
func (c *Client) OwnersPage(ctx context.Context, space, pageToken string) ([]membership.Membership, string, error) {
	// With admin access the filter must exclude apps; apps are never
	// owners, so the clause changes nothing otherwise.
	owners := `member.type != "BOT" AND role = "ROLE_MANAGER"`
	return listCall(ctx, space, c.membersList(ctx, space, pageToken, owners, owners))
}

// membersList is a spaces.members.list call with the client's options:
// filter is sent always, adminFilter instead when under admin access.
func (c *Client) membersList(ctx context.Context, space, pageToken, adminFilter, filter string) *chat.SpacesMembersListCall {
	call := c.svc.Spaces.Members.List(space).Context(ctx).PageSize(PageSize).Fields(listFields)
	if pageToken != "" {
		call = call.PageToken(pageToken)
	}
	if c.opts.ShowInvited {
		call = call.ShowInvited(true)
	}
	if c.opts.ShowGroups {
		call = call.ShowGroups(true)
	}
	if c.opts.UseAdminAccess {
		call = call.UseAdminAccess(true)
		filter = adminFilter
	}
	if filter != "" {
		call = call.Filter(filter)
	}
	return call
}

// Get reads one membership; member is a numeric ID, an email or "app".
func (c *Client) Get(ctx context.Context, space, member string) (membership.Membership, error) {
	call := c.svc.Spaces.Members.Get(space + "/members/" + member).Context(ctx)
	if c.opts.UseAdminAccess {
		call = call.UseAdminAccess(true)
	}
	m, err := call.Do()
	if err != nil {
		return membership.Membership{}, unstatedNotFound(wrap(ctx, err))
	}
	if m != nil && m.State == stateNotAMember {
		return membership.Membership{}, &Error{Message: scrubName(m.Name) + " is " + stateNotAMember + ": no membership and no pending invitation", kind: ErrNotFound}
	}
	mm, _ := convert(m)
	if err := checkAnswer("members.get", space, mm); err != nil {
		return membership.Membership{}, err
	}
	return mm, nil
}

// unstatedNotFound makes a 404 without Google's status (every error the
// Chat API writes carries one: NOT_FOUND) a refusal, not "no such
// membership": a proxy's or a front end's page for a path it does not
// route says nothing of the member. Read as "not a member", the address
// asked matched none of the members listed by ID, and policy sync removed
// the person a source names by it; a removal so answered was reported
// "already done" while the member stayed.
func unstatedNotFound(err error) error {
	var e *Error
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &e) || e.Status != "" {
		return err
	}
	return &Error{Code: e.Code, Message: e.Message + " (a 404 without Google's status NOT_FOUND: not taken as \"no such membership\")",
		Reason: e.Reason, kind: ErrPermanent, cause: e.cause}
}

// Create adds a user (users/{id or email}) or group (groups/{id}) to a space.
// The API creates every membership as ROLE_MEMBER.
func (c *Client) Create(ctx context.Context, space string, p membership.Principal) (membership.Membership, error) {
	body := &chat.Membership{}
	switch {
	case p.IsGroup():
		body.GroupMember = &chat.Group{Name: string(p)}
	case p == membership.App:
		body.Member = &chat.User{Name: string(p), Type: "BOT"}
	default:
		body.Member = &chat.User{Name: string(p), Type: "HUMAN"}
	}
	call := c.svc.Spaces.Members.Create(space, body).Context(ctx)
	if c.opts.UseAdminAccess {
		call = call.UseAdminAccess(true)
	}
	m, err := call.Do()
	if err != nil {
		return membership.Membership{}, wrap(ctx, err)
	}
	mm, _ := convert(m)
	if err := checkAnswer("members.create", space, mm); err != nil {
		// The create may well have happened: whom it made is unknown.
		return membership.Membership{}, err
	}
	return mm, nil
}

// PatchRole sets a membership's role; name is spaces/X/members/Y.
func (c *Client) PatchRole(ctx context.Context, name string, role membership.Role) (membership.Membership, error) {
	call := c.svc.Spaces.Members.Patch(name, &chat.Membership{Role: string(role)}).UpdateMask("role").Context(ctx)
	if c.opts.UseAdminAccess {
		call = call.UseAdminAccess(true)
	}
	m, err := call.Do()
	if err != nil {
		return membership.Membership{}, wrap(ctx, err)
	}
	mm, _ := convert(m)
	return mm, nil
}

// Delete removes a membership; name is spaces/X/members/Y.
func (c *Client) Delete(ctx context.Context, name string) error {
	call := c.svc.Spaces.Members.Delete(name).Context(ctx)
	if c.opts.UseAdminAccess {
		call = call.UseAdminAccess(true)
	}
	_, err := call.Do()
	return unstatedNotFound(wrap(ctx, err))
}

// userOf is a listed user's principal and email, normalised where they
// are read. Answers name people users/{id}; one named by an address
// instead (users/{email} is an alias Google takes in requests, and a
// server may answer with it) is that address's person, in whatever case
// it is spelled: the principal is lower-cased, as sources' addresses are,
// and stands for the email the answer left out. Otherwise the plan saw a
// member it could not match, and removed the very person a source names.
func userOf(name, email string) (membership.Principal, string) {
	email = strings.ToLower(strings.TrimSpace(email))
	p := membership.Principal(name)
	if address := p.Email(); address != "" {
		address = strings.ToLower(address)
		p = membership.User(address)
		if email == "" {
			email = address
		}
	}
	return p, email
}

// isBot tells an app's membership: typed BOT, or the calling app's own
// (users/app) whatever its type says (member.type is optional): read as a
// person no source names, policy sync removed the app from the space.
func isBot(userType string, p membership.Principal) bool {
	return userType == "BOT" || p == membership.App
}

// stateNotAMember is Membership.state for "The user doesn't belong to the
// space and doesn't have a pending invitation to join the space" (chat/v1
// discovery document): a membership so listed is someone absent.
const stateNotAMember = "NOT_A_MEMBER"

// convert maps an API membership to the syncer's; it reports false for
// memberships that name no one (never seen, but the fields are optional)
// and for those NOT_A_MEMBER.
func convert(m *chat.Membership) (membership.Membership, bool) {
	if m == nil || m.State == stateNotAMember { // a null in a list page; someone absent
		return membership.Membership{}, false
	}
	out := membership.Membership{Name: m.Name, Role: membership.Role(m.Role), State: membership.State(m.State)}
	switch {
	case m.GroupMember != nil && m.GroupMember.Name != "":
		out.Principal = membership.Principal(m.GroupMember.Name)
	case m.Member != nil && m.Member.Name != "":
		out.Principal, out.Email = userOf(m.Member.Name, m.Member.Email)
		out.Bot = isBot(m.Member.Type, out.Principal)
	default:
		return out, false
	}
	return out, true
}
