package lti

import (
	"errors"
)

// Code is a stable, machine-readable reason why a launch was rejected. The HTTP layer
// branches on it (status, page) and logs it; it never changes meaning once shipped.
type Code string

// The reasons Launcher.Launch and VerifyIDToken reject a launch.
const (
	// CodeBadState and CodeBadNonce come from the login binding (Launcher.Launch), the
	// rest from the id_token itself (VerifyIDToken).
	CodeBadState Code = "bad_state"
	CodeBadNonce Code = "bad_nonce"

	CodeTokenTooLarge          Code = "token_too_large"
	CodeMalformedToken         Code = "malformed_token"
	CodeBadAlgorithm           Code = "bad_algorithm"
	CodeUnknownKey             Code = "unknown_key"
	CodeKeysUnavailable        Code = "keys_unavailable"
	CodeBadSignature           Code = "bad_signature"
	CodeBadIssuer              Code = "bad_issuer"
	CodeBadAudience            Code = "bad_audience"
	CodeBadAZP                 Code = "bad_azp"
	CodeTokenExpired           Code = "token_expired"
	CodeTokenNotYetValid       Code = "token_not_yet_valid"
	CodeTokenTooOld            Code = "token_too_old"
	CodeUnknownDeployment      Code = "unknown_deployment"
	CodeBadVersion             Code = "bad_version"
	CodeUnsupportedMessageType Code = "unsupported_message_type"
	CodeMissingClaim           Code = "missing_claim"
	CodeInvalidClaim           Code = "invalid_claim"
	CodePlatformNotConfigured  Code = "platform_not_configured"
)

// messages holds what a person sees for each code: what happened and what to do next.
// They never mention the token or anything from it.
var messages = map[Code]string{
	CodeBadState: "This sign-in was not started in this browser, was already used, or took too long. " +
		"Go back to the course in Moodle and open the activity again.",
	CodeBadNonce: "The sign-in did not match the one Huddle started. " +
		"Go back to the course in Moodle and open the activity again.",
	CodeTokenTooLarge: "Moodle sent Huddle a launch that was far larger than expected. " +
		"Go back to the course and open the activity again; if this keeps happening, tell your Moodle administrator.",
	CodeMalformedToken: "Huddle could not read the launch it received from Moodle. " +
		"Go back to the course and open the activity again.",
	CodeBadAlgorithm: "The launch from Moodle was not signed in a way Huddle accepts. " +
		"Ask your Moodle administrator to check the Huddle tool settings.",
	CodeUnknownKey: "Huddle could not find the key Moodle used to sign this launch. " +
		"Wait a minute, then open the activity again; if it keeps happening, tell your Moodle administrator.",
	CodeKeysUnavailable: "Huddle could not reach your Moodle site to check this launch. " +
		"Wait a minute, then open the activity again; if it keeps happening, tell your Moodle administrator.",
	CodeBadSignature: "Huddle could not confirm that this launch really came from your Moodle site. " +
		"Go back to the course and open the activity again; if it keeps happening, tell your Moodle administrator.",
	CodeBadIssuer: "This launch came from a site Huddle does not recognise. " +
		"Open Huddle from your course in Moodle; if you did, ask your Moodle administrator to check the tool registration.",
	CodeBadAudience: "This launch was meant for a different tool, not Huddle. " +
		"Ask your Moodle administrator to check the Huddle tool registration.",
	CodeBadAZP: "This launch was meant for a different tool, not Huddle. " +
		"Ask your Moodle administrator to check the Huddle tool registration.",
	CodeTokenExpired: "Your launch took too long to reach Huddle. " +
		"Go back to the course and open the activity again.",
	CodeTokenNotYetValid: "Your launch reached Huddle before it was valid, which usually means a server clock is wrong. " +
		"Wait a moment and open the activity again; if it keeps happening, tell your Moodle administrator.",
	CodeTokenTooOld: "Your launch was issued too long ago to be used. " +
		"Go back to the course and open the activity again; if it keeps happening, tell your Moodle administrator.",
	CodeUnknownDeployment: "This Huddle installation has not been enabled for the part of Moodle you came from. " +
		"Ask your Moodle administrator to register the deployment with Huddle.",
	CodeBadVersion: "Moodle sent a launch in an LTI version Huddle does not support. " +
		"Ask your Moodle administrator to configure Huddle as an LTI 1.3 tool.",
	CodeUnsupportedMessageType: "Moodle asked Huddle to do something it does not support from this link. " +
		"Go back to the course and open the activity from its link.",
	CodeMissingClaim: "The launch from Moodle was missing information Huddle needs. " +
		"Go back to the course and open the activity again; if it keeps happening, tell your Moodle administrator.",
	CodeInvalidClaim: "The launch from Moodle contained information Huddle could not understand. " +
		"Go back to the course and open the activity again; if it keeps happening, tell your Moodle administrator.",
	CodePlatformNotConfigured: "Huddle's registration for your Moodle site is incomplete. " +
		"Ask your Moodle administrator to finish registering Huddle.",
}

// LaunchError is returned for every rejected launch. Code is for programs, Message for
// people, Detail for logs. None of them carries the token or the personal data in its
// claims, so the whole error is safe to log and to show. Callers use errors.As.
type LaunchError struct {
	Code    Code
	Message string
	// Detail is a short technical note for operators, e.g. which claim was missing.
	Detail string
	// Err is the underlying cause, if any, from the JWT library or the key fetch.
	Err error
	// Platform is the registration whose login state the launch consumed, nil when the
	// state itself was rejected. The HTTP layer frames the error page for it.
	Platform *Platform
}

// Error is for logs: the code, the detail and the cause. Causes come from the JWT library,
// the JSON decoder or the key fetch and name positions, claim names and kids, not values.
func (e *LaunchError) Error() string {
	msg := "lti: launch rejected: " + string(e.Code)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *LaunchError) Unwrap() error { return e.Err }

// launchError builds a LaunchError with the standard message for code.
func launchError(code Code, detail string, cause error) *LaunchError {
	return &LaunchError{Code: code, Message: messages[code], Detail: detail, Err: cause}
}

// Errors from building a deep linking response. They describe a programming or content
// choice of the tool, not a bad request from the platform, so they are plain sentinels.
var (
	// ErrContentTypeNotAccepted: the platform's accept_types does not include the item's type.
	ErrContentTypeNotAccepted = errors.New("content item type not accepted by the platform")
	// ErrMultipleNotAccepted: more than one item, but accept_multiple is false.
	ErrMultipleNotAccepted = errors.New("platform accepts only one content item")
	// ErrInvalidDeepLinkingResponse: a required field of the response is empty.
	ErrInvalidDeepLinkingResponse = errors.New("invalid deep linking response")
)
