package chatapi

import (
	"context"
	"fmt"
	"strings"

	admin "google.golang.org/api/admin/directory/v1"
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
}

// NewDirectory builds a Directory client. An empty endpoint keeps Google's.
func NewDirectory(ctx context.Context, endpoint string, opts Options) (*Directory, error) {
	var o []option.ClientOption
	if endpoint != "" {
		o = append(o, option.WithEndpoint(endpoint))
	}
	if opts.HTTPClient != nil {
		o = append(o, option.WithHTTPClient(opts.HTTPClient))
	} else {
		o = append(o, option.WithoutAuthentication())
	}
	svc, err := admin.NewService(ctx, o...)
	if err != nil {
		return nil, fmt.Errorf("directory client: %w", err)
	}
	return &Directory{svc: svc}, nil
}

// User looks a user up by primary email, alias or ID.
func (d *Directory) User(ctx context.Context, key string) (DirectoryUser, error) {
	u, err := d.svc.Users.Get(key).Context(ctx).Fields(userFields).Do()
	if err != nil {
		return DirectoryUser{}, wrap(ctx, err)
	}
	return directoryUser(u), nil
}

// UsersPage returns one page (500) of the customer's users matching query
// (the Directory's query language; "" for everyone).
func (d *Directory) UsersPage(ctx context.Context, query, pageToken string) ([]DirectoryUser, string, error) {
	// Sorted by primary email: the identity pass splits a long query by
	// what it has not reached yet.
	call := d.svc.Users.List().Customer("my_customer").MaxResults(DirectoryPageSize).OrderBy("email").Context(ctx).Fields("nextPageToken,users(" + userFields + ")")
	if query != "" {
		call = call.Query(query)
	}
	if pageToken != "" {
		call = call.PageToken(pageToken)
	}
	resp, err := call.Do()
	if err != nil {
		return nil, "", wrap(ctx, err)
	}
	out := make([]DirectoryUser, 0, len(resp.Users))
	for _, u := range resp.Users {
		out = append(out, directoryUser(u))
	}
	return out, resp.NextPageToken, nil
}

func directoryUser(u *admin.User) DirectoryUser {
	du := DirectoryUser{ID: u.Id, PrimaryEmail: strings.ToLower(u.PrimaryEmail), Suspended: u.Suspended, Archived: u.Archived, OrgUnitPath: u.OrgUnitPath}
	// nonEditableAliases are addresses in the customer's alias domains:
	// people use them as much as their own aliases.
	for _, list := range [][]string{u.Aliases, u.NonEditableAliases} {
		for _, a := range list {
			du.Aliases = append(du.Aliases, strings.ToLower(a))
		}
	}
	return du
}

// Group finds a group by email (or alias, or ID): its ID is what Chat's
// groups/{id} names.
func (d *Directory) Group(ctx context.Context, key string) (id, email string, err error) {
	g, err := d.svc.Groups.Get(key).Context(ctx).Fields("id,email").Do()
	if err != nil {
		return "", "", wrap(ctx, err)
	}
	return g.Id, strings.ToLower(g.Email), nil
}

// GroupMembersPage returns one page (200) of a group's members; nested adds
// the members of the groups in it.
func (d *Directory) GroupMembersPage(ctx context.Context, key string, nested bool, pageToken string) ([]GroupMember, string, error) {
	call := d.svc.Members.List(key).MaxResults(GroupPageSize).Context(ctx).Fields("nextPageToken,members(id,email,type,status)")
	if nested {
		call = call.IncludeDerivedMembership(true)
	}
	if pageToken != "" {
		call = call.PageToken(pageToken)
	}
	resp, err := call.Do()
	if err != nil {
		return nil, "", wrap(ctx, err)
	}
	out := make([]GroupMember, 0, len(resp.Members))
	for _, m := range resp.Members {
		out = append(out, GroupMember{ID: m.Id, Email: strings.ToLower(m.Email), Type: m.Type, Status: m.Status})
	}
	return out, resp.NextPageToken, nil
}
