// Masks one parsed JSON document as it goes to a client: Secret values (also inside the
// last-applied-configuration annotation) and the fields a masking profile names. Pure code on a
// DOM; the streaming filter (json_stream_masker.h) calls it on one object at a time, and the
// approval previews call it on what they show reviewers.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

#include "gateway/masking/masking_profile.h"

namespace sluice::gateway::masking {

inline constexpr const char* kLastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration";

// What the objects of one response are, and what to hide in them.
struct MaskScope {
  bool secrets = false;  // the request was for core `secrets`: every object in it is a Secret
  bool token_requests = false;  // core serviceaccounts/token: the answer's status.token is a credential
  bool reveal = false;   // an approved `reveal`: Secret values pass (profile fields are still masked)
  const MaskingProfile* profile = nullptr;  // field rules for api_group/resource; may be null
  std::string api_group, resource;
};

// A whole response value: an object, a List, a Table, a watch event, a Status. Objects of kind
// Secret are masked wherever they appear, whatever the scope.
template <class Json>
void mask_document(Json& doc, const MaskScope& scope);
// One element of a Table's `rows` (a list's `items` are whole documents): the streaming filter
// hands them over one at a time.
template <class Json>
void mask_table_row(Json& row, const MaskScope& scope);

}  // namespace sluice::gateway::masking
