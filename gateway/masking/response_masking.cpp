#include "gateway/masking/response_masking.h"

#include <boost/algorithm/string/predicate.hpp>

#include <algorithm>
#include <cctype>
#include <vector>

namespace sluice::gateway::masking {
namespace {

std::string trim_lower(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

std::string media_type(std::string_view value) { return trim_lower(value.substr(0, value.find(';'))); }

bool is_exec_or_attach(const common::RequestInfo& info) {
  return info.api_group.empty() && info.resource == "pods" && (info.subresource == "exec" || info.subresource == "attach");
}

}  // namespace

MaskingPlan plan_masking(const common::RequestInfo& info, std::shared_ptr<const MaskingProfile> profile, bool reveal) {
  MaskingPlan plan;
  if (!profile) profile = default_profile();
  plan.profile = profile;
  if (!info.is_resource_request) return plan;
  const bool detectors = !profile->detectors.empty();
  if (info.api_group.empty() && info.resource == "pods" && info.subresource == "log") {
    if (detectors) plan.kind = MaskingPlan::Kind::text;
    return plan;
  }
  if (is_exec_or_attach(info)) {
    if (detectors) plan.kind = MaskingPlan::Kind::exec;
    return plan;
  }
  if (info.api_group.empty() && info.resource == "serviceaccounts" && info.subresource == "token") {
    plan.scope.token_requests = true;
    plan.scope.reveal = reveal;
    if (!reveal) plan.kind = MaskingPlan::Kind::json;
    return plan;
  }
  if (!info.subresource.empty() && info.subresource != "status") return plan;
  plan.scope.secrets = info.api_group.empty() && info.resource == "secrets";
  plan.scope.reveal = reveal;
  plan.scope.api_group = info.api_group;
  plan.scope.resource = info.resource;
  plan.scope.profile = profile.get();
  if ((plan.scope.secrets && !reveal) || profile->has_fields_for(info.api_group, info.resource))
    plan.kind = MaskingPlan::Kind::json;
  return plan;
}

std::optional<std::string> refuse_request(const MaskingPlan& plan, const HeaderList& client_headers) {
  if (plan.kind != MaskingPlan::Kind::exec) return std::nullopt;
  for (const auto& [name, value] : client_headers)
    if (boost::iequals(name, "Upgrade") && !boost::icontains(value, "websocket"))
      return "exec and attach through Sluice need a WebSocket connection (kubectl 1.30 or newer): their output is "
             "checked for secrets, and " + value + " streams cannot be";
  return std::nullopt;
}

std::optional<std::string> refuse_masked_write(const MaskingPlan& plan, const common::RequestInfo& info,
                                               std::string_view body) {
  if (plan.kind != MaskingPlan::Kind::json) return std::nullopt;
  if (info.verb != "create" && info.verb != "update" && info.verb != "patch") return std::nullopt;
  // A protobuf body carries a Secret's data as raw bytes: the text mask itself.
  if (body.find(kMaskedBase64) == std::string_view::npos && body.find(kMaskedText) == std::string_view::npos)
    return std::nullopt;
  return std::string("the request would store Sluice's mask (") + kMaskedText +
         ") in place of a real value: what Sluice showed you was masked, so write the values themselves "
         "(change only the keys you mean to change, e.g. with kubectl patch)";
}

std::string json_only_accept(std::string_view accept) {
  std::string out;
  for (auto range : split(accept, ',')) {
    const auto type = media_type(range);
    if (type != "application/json" && type != "*/*" && type != "application/*") continue;
    // Parameter values keep their case: the API server reads "as=Table" exactly.
    std::string r(range);
    r.erase(0, r.find_first_not_of(" \t"));
    r.erase(r.find_last_not_of(" \t") + 1);
    if (type == "*/*" || type == "application/*") r = "application/json";
    if (!out.empty()) out += ", ";
    out += r;
  }
  return out.empty() ? "application/json" : out;
}

void prepare_request(const MaskingPlan& plan, HeaderList& headers) {
  if (plan.kind == MaskingPlan::Kind::none) return;
  std::string accept;
  bool had_accept = false;
  std::erase_if(headers, [&](const auto& h) {
    if (boost::iequals(h.first, "Accept-Encoding")) return true;
    if (plan.kind == MaskingPlan::Kind::json && boost::iequals(h.first, "Accept")) {
      accept += (had_accept ? "," : "") + h.second;
      had_accept = true;
      return true;
    }
    return false;
  });
  if (plan.kind == MaskingPlan::Kind::json) headers.emplace_back("Accept", json_only_accept(accept));
  if (plan.kind == MaskingPlan::Kind::exec)
    for (auto& [name, value] : headers)
      if (boost::iequals(name, "Sec-WebSocket-Protocol")) {
        std::string kept;
        for (auto p : split(value, ',')) {
          const auto proto = trim_lower(p);
          if (proto.empty() || proto.find("base64") != std::string::npos) continue;
          kept += (kept.empty() ? "" : ", ") + proto;
        }
        value = kept;
      }
}

std::unique_ptr<ResponseFilter> ResponseFilter::start(const MaskingPlan& plan, int status,
                                                      std::string_view content_type,
                                                      std::string_view content_encoding,
                                                      std::string_view websocket_protocol, std::string& refusal) {
  const auto encoding = trim_lower(content_encoding);
  const bool encoded = !encoding.empty() && encoding != "identity";
  auto make = [](auto impl) {
    auto f = std::make_unique<ResponseFilter>();
    f->impl_ = std::move(impl);
    return f;
  };
  switch (plan.kind) {
    case MaskingPlan::Kind::none:
      return nullptr;
    case MaskingPlan::Kind::json:
      if (status == 101) {
        refusal = "the cluster switched protocols on a request whose answer is checked for secrets";
        return nullptr;
      }
      if (encoded || media_type(content_type) != "application/json") {
        refusal = "the cluster answered in a form the gateway cannot check for secrets (" +
                  std::string(encoded ? "Content-Encoding " + encoding : "Content-Type " + std::string(content_type)) +
                  "); the response was not passed on";
        return nullptr;
      }
      return make(std::make_unique<JsonStreamMasker>(plan.scope));
    case MaskingPlan::Kind::text:
      if (status != 200) return nullptr;  // the API server's own Status answers
      if (encoded) {
        refusal = "the cluster sent the log compressed (" + encoding + "); the gateway must read it to mask secrets";
        return nullptr;
      }
      return make(std::make_unique<StreamRedactor>(plan.profile));
    case MaskingPlan::Kind::exec: {
      if (status != 101) return nullptr;
      const auto proto = trim_lower(websocket_protocol);
      if (proto.find("channel.k8s.io") == std::string::npos || proto.find("base64") != std::string::npos) {
        refusal = "the cluster upgraded exec/attach to a protocol the gateway cannot check for secrets (" +
                  std::string(proto.empty() ? "no WebSocket subprotocol" : proto) + ")";
        return nullptr;
      }
      return make(std::make_unique<WebSocketRedactor>(plan.profile));
    }
  }
  return nullptr;
}

bool ResponseFilter::feed(std::string_view in, std::string& out) {
  if (!error_.empty()) return false;
  return std::visit(
      [&](auto& impl) {
        using T = std::decay_t<decltype(*impl)>;
        if constexpr (std::is_same_v<T, StreamRedactor>) {
          impl->feed(in, out);
          return true;
        } else {
          if (impl->feed(in, out)) return true;
          error_ = impl->error();
          return false;
        }
      },
      impl_);
}

bool ResponseFilter::finish(std::string& out) {
  if (!error_.empty()) return false;
  return std::visit(
      [&](auto& impl) {
        using T = std::decay_t<decltype(*impl)>;
        if constexpr (std::is_same_v<T, JsonStreamMasker>) {
          if (impl->finish(out)) return true;
          error_ = impl->error();
          return false;
        } else {
          impl->flush(out, true);
          return true;
        }
      },
      impl_);
}

void ResponseFilter::idle_flush(std::string& out) {
  std::visit(
      [&](auto& impl) {
        using T = std::decay_t<decltype(*impl)>;
        if constexpr (!std::is_same_v<T, JsonStreamMasker>) impl->flush(out, false);
      },
      impl_);
}

bool ResponseFilter::holding() const {
  return std::visit(
      [](const auto& impl) {
        using T = std::decay_t<decltype(*impl)>;
        if constexpr (std::is_same_v<T, JsonStreamMasker>) return false;
        else return impl->holding();
      },
      impl_);
}

}  // namespace sluice::gateway::masking
