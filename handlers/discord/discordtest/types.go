package discordtest

import "github.com/bwmarrin/discordgo"

// Discord's objects as the fake's API takes and returns them, so that a
// program driving the fake (the demo, the whole-system tests) builds
// guilds, members and messages without importing the platform library
// itself.
type (
	User         = discordgo.User
	Member       = discordgo.Member
	Guild        = discordgo.Guild
	Channel      = discordgo.Channel
	Role         = discordgo.Role
	Message      = discordgo.Message
	MessageEmbed = discordgo.MessageEmbed
)

// Channel types and permission bits the drivers of the fake use.
const (
	ChannelTypeGuildText  = discordgo.ChannelTypeGuildText
	ChannelTypeGuildVoice = discordgo.ChannelTypeGuildVoice

	PermissionViewChannel     = discordgo.PermissionViewChannel
	PermissionViewAuditLogs   = discordgo.PermissionViewAuditLogs
	PermissionSendMessages    = discordgo.PermissionSendMessages
	PermissionModerateMembers = discordgo.PermissionModerateMembers
	PermissionManageMessages  = discordgo.PermissionManageMessages
	PermissionKickMembers     = discordgo.PermissionKickMembers
	PermissionBanMembers      = discordgo.PermissionBanMembers

	ApplicationCommandOptionRole = discordgo.ApplicationCommandOptionRole
)
