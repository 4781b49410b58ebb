#include "gateway/masking/stream_redactor.h"

#include <optional>
#include <vector>

namespace sluice::gateway::masking {
namespace {

// Longer than any detector's bounded match: a hold that grows past it is masked whole (fail safe).
constexpr std::size_t kMaxHeld = 64 * 1024;
constexpr std::size_t kPartialMinAtEnd = 8;
constexpr std::size_t kPartialMinIdle = 24;

struct Found {
  std::string::const_iterator start;
  boost::match_results<std::string::const_iterator> m;
  bool full = false;
};

}  // namespace

StreamRedactor::StreamRedactor(std::shared_ptr<const MaskingProfile> profile) : profile_(std::move(profile)) {}

void StreamRedactor::feed(std::string_view in, std::string& out) {
  held_.append(in);
  scan(out, false, 0);
  if (held_.size() > kMaxHeld) {
    out += kMaskedText;
    ++masked_;
    held_.clear();
  }
}

void StreamRedactor::flush(std::string& out, bool end_of_stream) {
  scan(out, true, end_of_stream ? kPartialMinAtEnd : kPartialMinIdle);
}

// Passes on held_ up to the first place a detector may still match; `final` means no more bytes
// follow this scan, so a partial match is decided by its length (partial_min).
void StreamRedactor::scan(std::string& out, bool final, std::size_t partial_min) {
  const std::string& text = held_;
  auto pos = text.cbegin();
  // Each detector's next match from `pos`, searched again only once the scan has passed it: a
  // chunk with many matches costs one pass per detector, not one per match.
  const auto& detectors = profile_->detectors;
  std::vector<std::optional<Found>> next(detectors.size());
  std::vector<bool> searched(detectors.size(), false);
  while (pos != text.cend()) {
    std::optional<Found> best;
    for (std::size_t i = 0; i < detectors.size(); ++i) {
      if (!searched[i] || (next[i] && next[i]->start < pos)) {
        searched[i] = true;
        next[i].reset();
        boost::match_results<std::string::const_iterator> m;
        auto flags = boost::match_default | boost::match_partial;
        if (pos != text.cbegin()) flags |= boost::match_prev_avail;  // \b looks at the byte before
        if (boost::regex_search(pos, text.cend(), m, detectors[i].pattern, flags)) next[i] = Found{m[0].first, m, m[0].matched};
      }
      const auto& f = next[i];
      if (f && (!best || f->start < best->start || (f->start == best->start && f->full && !best->full))) best = f;
    }
    if (!best) break;
    const auto& m = best->m;
    // A full match that reaches the end of what we have may still grow (a longer password).
    const bool open_ended = !best->full || (m[0].second == text.cend() && !final);
    if (open_ended && !final) {
      out.append(pos, best->start);
      held_.erase(0, static_cast<std::size_t>(best->start - text.cbegin()));
      return;
    }
    out.append(pos, best->start);
    if (!best->full) {
      const auto len = static_cast<std::size_t>(text.cend() - best->start);
      if (len >= partial_min) {
        out += kMaskedText;
        ++masked_;
      } else {
        out.append(best->start, text.cend());
      }
      pos = text.cend();
      break;
    }
    if (m[0].first == m[0].second) {  // an empty match (a configured pattern such as "x*"): step on
      if (best->start == text.cend()) break;
      out += *best->start;
      pos = best->start + 1;
      continue;
    }
    // The first capture group, when it took part, is the secret; otherwise the whole match is.
    if (m.size() > 1 && m[1].matched) {
      out.append(m[0].first, m[1].first);
      out += kMaskedText;
      out.append(m[1].second, m[0].second);
    } else {
      out += kMaskedText;
    }
    ++masked_;
    pos = m[0].second;
  }
  out.append(pos, text.cend());
  held_.clear();
}

}  // namespace sluice::gateway::masking
