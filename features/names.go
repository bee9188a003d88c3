package features

// SchemaVersion changes whenever Names or the meaning of a feature
// changes; a model trained on another schema is refused.
const SchemaVersion = 3

// Feature indexes into a vector; Names[i] is the name of feature i.
const (
	FPrefixLen = iota
	FIsIPv6
	FPrefixSeen
	FPrefixAgeHours
	FPrefixOriginsEver
	FPrefixOriginsNow
	FCoveringPresent
	FCoveringLenDiff
	FCoveringOrigins
	FCoveringOriginMatch
	FMoreSpecifics
	FBogonPrefix
	FOriginKnownForPrefix
	FOriginForPrefixAgeHours
	FOriginSeenAnywhere
	FOriginAgeHours
	FOriginPrefixes
	FOriginBogon
	FOriginIsExpected
	FOriginSiblingOfExpected
	FOriginProviderOfExpected
	FOriginCustomerOfExpected
	FOriginPeerOfExpected
	FOriginLinkedToExpected
	FExpectedOriginInPath
	FRPKIValid
	FRPKIInvalidASN
	FRPKIInvalidLength
	FRPKINotFound
	FRPKIExpectedValid
	FPathLen
	FPathUniqueLen
	FPathLenDelta
	FPathChanged
	FPathEditDistance
	FPeerOriginChanged
	FPrependMax
	FHasASSet
	FBogonASNs
	FNewLinks
	FYoungestLinkAgeHours
	FOriginLinkNew
	FNewLinkReverseSeen
	FNewLinkMinDegree
	FNewLinkPosition
	FValleyViolation
	FLeakType
	FLeakPosition
	FUnknownRelLinks
	FPeersSeeingPrefix
	FPeersSeeingOrigin
	FPeersActive
	FOriginNewPrefixesBurst
	FNewLinkASBurst
	FLeakerBurst
	FRelationsInferred
	FCoveringPeers
	NumFeatures
)

// Names are the features in vector order.
var Names = [NumFeatures]string{
	FPrefixLen:                "prefix_len",
	FIsIPv6:                   "is_ipv6",
	FPrefixSeen:               "prefix_seen_before",
	FPrefixAgeHours:           "prefix_age_hours",
	FPrefixOriginsEver:        "prefix_origins_ever",
	FPrefixOriginsNow:         "prefix_origins_now",
	FCoveringPresent:          "covering_present",
	FCoveringLenDiff:          "covering_len_diff",
	FCoveringOrigins:          "covering_origins",
	FCoveringOriginMatch:      "covering_origin_match",
	FMoreSpecifics:            "more_specifics",
	FBogonPrefix:              "bogon_prefix",
	FOriginKnownForPrefix:     "origin_known_for_prefix",
	FOriginForPrefixAgeHours:  "origin_for_prefix_age_hours",
	FOriginSeenAnywhere:       "origin_seen_anywhere",
	FOriginAgeHours:           "origin_age_hours",
	FOriginPrefixes:           "origin_prefixes",
	FOriginBogon:              "origin_bogon",
	FOriginIsExpected:         "origin_is_expected",
	FOriginSiblingOfExpected:  "origin_sibling_of_expected",
	FOriginProviderOfExpected: "origin_provider_of_expected",
	FOriginCustomerOfExpected: "origin_customer_of_expected",
	FOriginPeerOfExpected:     "origin_peer_of_expected",
	FOriginLinkedToExpected:   "origin_linked_to_expected",
	FExpectedOriginInPath:     "expected_origin_in_path",
	FRPKIValid:                "rpki_valid",
	FRPKIInvalidASN:           "rpki_invalid_asn",
	FRPKIInvalidLength:        "rpki_invalid_length",
	FRPKINotFound:             "rpki_not_found",
	FRPKIExpectedValid:        "rpki_expected_origin_valid",
	FPathLen:                  "path_len",
	FPathUniqueLen:            "path_unique_len",
	FPathLenDelta:             "path_len_delta",
	FPathChanged:              "path_changed",
	FPathEditDistance:         "path_edit_distance",
	FPeerOriginChanged:        "peer_origin_changed",
	FPrependMax:               "prepend_max",
	FHasASSet:                 "has_as_set",
	FBogonASNs:                "bogon_asns",
	FNewLinks:                 "new_links",
	FYoungestLinkAgeHours:     "youngest_link_age_hours",
	FOriginLinkNew:            "origin_link_new",
	FNewLinkReverseSeen:       "new_link_reverse_seen",
	FNewLinkMinDegree:         "new_link_min_degree",
	FNewLinkPosition:          "new_link_position",
	FValleyViolation:          "valley_violation",
	FLeakType:                 "leak_type",
	FLeakPosition:             "leak_position",
	FUnknownRelLinks:          "unknown_rel_links",
	FPeersSeeingPrefix:        "peers_seeing_prefix",
	FPeersSeeingOrigin:        "peers_seeing_origin",
	FPeersActive:              "peers_active",
	FOriginNewPrefixesBurst:   "origin_new_prefixes_burst",
	FNewLinkASBurst:           "new_link_as_burst",
	FLeakerBurst:              "leaker_burst",
	FRelationsInferred:        "relations_inferred",
	FCoveringPeers:            "covering_peers",
}

// NameList returns Names as a slice.
func NameList() []string { return append([]string(nil), Names[:]...) }
