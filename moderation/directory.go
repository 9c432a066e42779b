package moderation

import (
	"context"
)

// Directory is what a platform tells the engine about a property beyond
// its events. Each platform handler provides one.
type Directory interface {
	// Self returns the bot's own account on the platform: the actor of the
	// engine's records.
	Self() (id, name string)
	// Staff returns the property's staff (owner, administrators,
	// moderators and the bot itself) with every name they show. Their
	// names are protected from impersonation.
	Staff(ctx context.Context, property string) ([]Member, error)
	// IsAdmin reports whether user is an administrator of property.
	IsAdmin(ctx context.Context, property, user string) (bool, error)
}

// Member is an account and the names it shows: on Discord the username,
// global display name and server nickname; on Telegram the first and last
// name and the username.
type Member struct {
	ID    string
	Names []string
}

// RoleLister is implemented by directories of platforms with roles
// (Discord); the link filter's exempt roles need it.
type RoleLister interface {
	MemberRoles(ctx context.Context, property, user string) ([]string, error)
}

// InviteLister is implemented by directories that can list a property's
// own invite codes; links to them are never blocked as invites.
type InviteLister interface {
	Invites(ctx context.Context, property string) ([]string, error)
}

// NameLister is implemented by directories that know every name of a
// member, the name the member is shown by last (Discord: username, global
// name, nickname); without it the impersonation guard checks the names
// the event carries.
type NameLister interface {
	MemberNames(ctx context.Context, property, user string) ([]string, error)
}
