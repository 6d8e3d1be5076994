#include "farm/ktap.hpp"

#include <algorithm>
#include <optional>

namespace vmm::farm {
namespace {

// Deeper nesting is not KTAP any more; such lines are ignored rather than recursed into.
constexpr std::size_t kMaxDepth = 64;
constexpr std::size_t kMaxNumberDigits = 9;

struct Node {
  std::string name;
  KtapStatus status = KtapStatus::kPass;
  std::string detail;
  std::vector<Node> children;
};

// The lines at one indentation: results so far, its plan and the "# Subtest:" name.
struct Level {
  std::size_t indent = 0;
  std::vector<Node> nodes;
  std::optional<uint64_t> plan;
  std::string subtest;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool starts_with_word(std::string_view s, std::string_view word) {
  return s.starts_with(word) && (s.size() == word.size() || s[word.size()] == ' ' ||
                                 s[word.size()] == '\t' || s[word.size()] == '\r');
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const auto a = static_cast<unsigned char>(s[i]);
    const auto b = static_cast<unsigned char>(prefix[i]);
    if ((a >= 'a' && a <= 'z' ? a - 32 : a) != b) return false;
  }
  return true;
}

// "[    1.234567] " as printk writes it, or nothing.
std::string_view strip_timestamp(std::string_view line) {
  if (line.empty() || line.front() != '[') return line;
  const auto close = line.find(']');
  if (close == std::string_view::npos || close > 32) return line;
  for (std::size_t i = 1; i < close; ++i) {
    const char c = line[i];
    if (c != ' ' && c != '.' && (c < '0' || c > '9')) return line;
  }
  line.remove_prefix(close + 1);
  if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  return line;
}

std::optional<uint64_t> leading_number(std::string_view& s) {
  std::size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0 || digits > kMaxNumberDigits) return std::nullopt;
  uint64_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) value = value * 10 + static_cast<uint64_t>(s[i] - '0');
  s.remove_prefix(digits);
  return value;
}

// "1..N", optionally followed by a directive.
std::optional<uint64_t> plan_of(std::string_view body) {
  if (!body.starts_with("1..")) return std::nullopt;
  body.remove_prefix(3);
  const auto n = leading_number(body);
  if (!n) return std::nullopt;
  body = trim(body);
  if (!body.empty() && body.front() != '#') return std::nullopt;
  return n;
}

// "ok 3 - name # SKIP why" and "not ok 3 name": nullopt for anything else.
std::optional<Node> result_of(std::string_view body) {
  bool ok = false;
  if (starts_with_word(body, "ok")) {
    ok = true;
    body.remove_prefix(2);
  } else if (starts_with_word(body, "not ok")) {
    body.remove_prefix(6);
  } else {
    return std::nullopt;
  }
  const std::string_view whole = body;
  body = trim(body);
  const auto number = leading_number(body);
  body = trim(body);
  if (body.starts_with("- ") || body == "-")
    body.remove_prefix(std::min<std::size_t>(2, body.size()));
  std::string_view directive;
  if (const auto hash = body.find('#'); hash != std::string_view::npos) {
    directive = trim(body.substr(hash + 1));
    body = body.substr(0, hash);
  }
  Node node;
  node.name = std::string(trim(body));
  if (node.name.empty()) node.name = number ? "test " + std::to_string(*number) : "test";
  const bool skip = iequals_prefix(directive, "SKIP");
  const bool todo = iequals_prefix(directive, "TODO");
  if (skip) {
    node.status = KtapStatus::kSkip;
    node.detail = std::string(trim(directive.substr(4)));  // the reason
  } else if (todo && !ok) {
    node.status = KtapStatus::kSkip;
    node.detail = std::string(directive);
  } else if (!ok) {
    node.status = KtapStatus::kFail;
    node.detail = "not ok";
    if (!trim(whole).empty()) node.detail += " " + std::string(trim(whole));
  }
  return node;
}

class Parser {
 public:
  void line(std::string_view raw) {
    raw = strip_timestamp(raw);
    std::size_t indent = 0;
    std::size_t i = 0;
    for (; i < raw.size() && (raw[i] == ' ' || raw[i] == '\t'); ++i)
      indent += raw[i] == '\t' ? 8 : 1;
    const std::string_view body = trim(raw.substr(i));
    if (body.empty()) return;
    if (body.starts_with("KTAP version ") || body.starts_with("TAP version ")) {
      result_.found = true;
      (void)level_at(indent);
      return;
    }
    if (const auto plan = plan_of(body)) {
      result_.found = true;
      if (auto* level = level_at(indent)) level->plan = plan;
      return;
    }
    if (!result_.found) return;
    if (body.starts_with("# Subtest:")) {
      if (auto* level = level_at(indent)) level->subtest = std::string(trim(body.substr(10)));
      return;
    }
    auto node = result_of(body);
    if (!node) return;
    auto children = close_deeper_than(indent);
    node->children = std::move(children);
    if (auto* level = level_at(indent)) level->nodes.push_back(std::move(*node));
  }

  KtapResult finish() && {
    if (!levels_.empty()) {
      auto orphans = close_deeper_than(levels_.front().indent);
      Level& top = levels_.front();
      adopt_orphans(top, std::move(orphans), orphan_name_);
      check_plan(top, "top level");
      for (const auto& node : top.nodes) flatten(node, "");
    }
    if (dropped_ > 0) {
      result_.problems.push_back(std::to_string(dropped_) + " more cases than the " +
                                 std::to_string(kMaxKtapCases) + " kept");
    }
    return std::move(result_);
  }

 private:
  // The level of this indentation, made if new; nullptr beyond kMaxDepth.
  Level* level_at(std::size_t indent) {
    auto it = std::find_if(levels_.begin(), levels_.end(),
                           [&](const Level& l) { return l.indent >= indent; });
    if (it != levels_.end() && it->indent == indent) return &*it;
    if (levels_.size() >= kMaxDepth) return nullptr;
    it = levels_.insert(it, Level{indent, {}, std::nullopt, {}});
    return &*it;
  }

  void check_plan(const Level& level, const std::string& name) {
    if (level.plan && *level.plan != level.nodes.size()) {
      result_.problems.push_back(name + ": planned " + std::to_string(*level.plan) + ", ran " +
                                 std::to_string(level.nodes.size()));
    }
  }

  // Results deeper than a suite's last result line, whose own result never came (a crash).
  void adopt_orphans(Level& level, std::vector<Node> orphans, const std::string& name) {
    if (orphans.empty()) return;
    const std::string label = name.empty() ? "subtest" : name;
    result_.problems.push_back(label + ": no result line");
    level.nodes.push_back(
        Node{label, KtapStatus::kFail, "no result line (incomplete)", std::move(orphans)});
  }

  // Closes the levels deeper than `indent`: their results are the children of the result line
  // at `indent` that comes next.
  std::vector<Node> close_deeper_than(std::size_t indent) {
    std::vector<Node> collected;
    std::string collected_name;
    while (!levels_.empty() && levels_.back().indent > indent) {
      Level level = std::move(levels_.back());
      levels_.pop_back();
      adopt_orphans(level, std::move(collected), collected_name);
      check_plan(level, level.subtest.empty() ? "subtest" : level.subtest);
      collected = std::move(level.nodes);
      collected_name = level.subtest;
    }
    orphan_name_ = collected_name;
    return collected;
  }

  void flatten(const Node& node, const std::string& prefix) {
    const std::string path = prefix.empty() ? node.name : prefix + "." + node.name;
    const auto failures_before = failures_;
    for (const auto& child : node.children) flatten(child, path);
    const bool failed_child = failures_ > failures_before;
    // A suite is a case of its own when it has none, or fails on its own (its setup failed).
    if (!node.children.empty() && (node.status != KtapStatus::kFail || failed_child)) return;
    if (result_.cases.size() >= kMaxKtapCases) {
      ++dropped_;
      return;
    }
    result_.cases.push_back(KtapCase{path, node.status, node.detail});
    if (node.status == KtapStatus::kFail) ++failures_;
  }

  KtapResult result_;
  std::vector<Level> levels_;  // by increasing indentation
  std::string orphan_name_;
  std::size_t dropped_ = 0;
  std::size_t failures_ = 0;
};

}  // namespace

std::size_t KtapResult::count(KtapStatus status) const noexcept {
  return static_cast<std::size_t>(std::count_if(
      cases.begin(), cases.end(), [&](const KtapCase& c) { return c.status == status; }));
}

KtapResult parse_ktap(std::string_view text) {
  Parser parser;
  while (!text.empty()) {
    const auto end = text.find('\n');
    parser.line(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return std::move(parser).finish();
}

}  // namespace vmm::farm
