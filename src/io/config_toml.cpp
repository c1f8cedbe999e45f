#include "io/config_toml.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#if __has_include(<toml++/toml.hpp>)
#include <toml++/toml.hpp>
#else
#include <toml++/toml.h>  // Debian 12's 3.3 ships only this name
#endif

#include "core/error.h"
#include "text/utf8.h"

namespace saediff {

namespace {

int line_of(const toml::node& node) { return static_cast<int>(node.source().begin.line); }

const char* kind_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "a value";
  }
}

// A scalar as the text CLI11 parses; false when the node is no option value.
bool scalar_text(const toml::node& node, std::string& out) {
  if (const auto* s = node.as_string()) {
    out = s->get();
  } else if (const auto* i = node.as_integer()) {
    out = std::to_string(i->get());
  } else if (const auto* f = node.as_floating_point()) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof(buf), f->get());  // shortest text that reads back exactly
    out.assign(buf, r.ptr);
  } else if (const auto* b = node.as_boolean()) {
    out = b->get() ? "true" : "false";
  } else {
    return false;
  }
  return true;
}

ConfigEntry entry_of(const std::string& path, const std::string& section, const std::string& key,
                     const toml::node& value) {
  ConfigEntry e{section, key, {}, line_of(value)};
  const std::string where = section.empty() ? std::string() : " in [" + section + "]";
  SAEDIFF_CHECK(!key.empty(), path, ":", e.line, ": an empty key", where, "; keys are option names");
  if (const auto* arr = value.as_array()) {
    SAEDIFF_CHECK(!arr->empty(), path, ":", e.line, ": '", key, "'", where, " is an empty array; leave the key out instead");
    for (const toml::node& v : *arr) {
      std::string text;
      SAEDIFF_CHECK(scalar_text(v, text), path, ":", line_of(v), ": '", key, "'", where, " holds ", kind_name(v),
                    "; an array's elements must be strings, numbers or booleans");
      SAEDIFF_CHECK(v.type() == arr->front().type(), path, ":", line_of(v), ": '", key, "'", where,
                    " mixes element types");
      e.values.push_back(std::move(text));
    }
    return e;
  }
  std::string text;
  SAEDIFF_CHECK(scalar_text(value, text), path, ":", e.line, ": '", key, "'", where, " is ", kind_name(value),
                "; an option's value is a string, number, boolean or array of those");
  e.values.push_back(std::move(text));
  return e;
}

// toml++ 3.3 and 3.4 reach __builtin_unreachable (undefined behaviour; UBSan aborts) when they test some non-ASCII
// code points for whitespace (U+00A1..U+0499, U+FAD6..U+FEFE; tomlplusplus issues 190 and 295, fixed upstream in
// July 2026), which they do on several paths, error paths included. So toml++ is given ASCII only: the same document
// with every non-ASCII character of a string written as its \u or \U escape (a literal string becomes the basic
// string of the same value), and those of comments as '?'. TOML allows non-ASCII text nowhere else, so elsewhere,
// and right after a backslash (an invalid escape), it is refused here with its place. Lines are unchanged; a
// column toml++ reports on a line with non-ASCII text counts the escapes.
std::string ascii_toml(std::string_view text, const std::string& path) {
  if (std::all_of(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0x80) == 0; })) {
    return std::string(text);
  }
  int line = 1;
  size_t line_start = 0;
  const auto where = [&](size_t i) { return cat(path, ":", line, ":", i - line_start + 1, ": "); };
  if (const size_t bad = find_invalid_utf8(text); bad != std::string_view::npos) {
    for (size_t i = 0; i < bad; ++i)
      if (text[i] == '\n') ++line, line_start = i + 1;
    SAEDIFF_FAIL(where(bad), "not valid UTF-8");
  }
  enum class State { normal, comment, basic, literal, ml_basic, ml_literal } state = State::normal;
  const auto at = [&](size_t i) { return i < text.size() ? text[i] : '\0'; };
  const auto non_ascii = [&](size_t i) { return (static_cast<unsigned char>(at(i)) & 0x80) != 0; };
  const auto run_of = [&](size_t i, char q) {
    size_t n = 0;
    while (at(i + n) == q) ++n;
    return n;
  };
  std::string out;
  out.reserve(text.size() + text.size() / 2);
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (non_ascii(i)) {
      const size_t n = utf8_length(static_cast<unsigned char>(c));
      const uint32_t cp = decode_utf8_first(text.substr(i, n));
      switch (state) {
        case State::normal:
          SAEDIFF_FAIL(where(i), "a non-ASCII character outside a string or comment (TOML allows them only there)");
        case State::comment:
          out += '?';
          break;
        default: {
          char esc[16];
          std::snprintf(esc, sizeof esc, cp <= 0xFFFF ? "\\u%04X" : "\\U%08X", cp);
          out += esc;
        }
      }
      i += n - 1;
      continue;
    }
    if (c == '\n') ++line, line_start = i + 1;
    switch (state) {
      case State::normal:
        if (c == '#') state = State::comment;
        if (c == '"' || c == '\'') {
          const size_t n = run_of(i, c);
          if (n >= 3) {
            state = c == '"' ? State::ml_basic : State::ml_literal;
            out += "\"\"\"";
            i += 2;
          } else if (n == 2) {
            out += "\"\"";  // an empty string
            ++i;
          } else {
            state = c == '"' ? State::basic : State::literal;
            out += '"';
          }
          continue;
        }
        break;
      case State::comment:
        if (c == '\n') state = State::normal;
        break;
      case State::basic:
      case State::ml_basic:
        if (c == '\\') {  // an escape: the next character is copied with it (a line-ending one is ASCII too)
          SAEDIFF_CHECK(!non_ascii(i + 1), where(i + 1), "a non-ASCII character after a backslash (no valid escape)");
          out += c;
          if (i + 1 < text.size()) {
            out += text[i + 1];
            if (text[i + 1] == '\n') ++line, line_start = i + 2;
            ++i;
          }
          continue;
        }
        if (state == State::basic && (c == '"' || c == '\n')) state = State::normal;
        if (state == State::ml_basic && c == '"' && run_of(i, '"') >= 3) {
          const size_t n = run_of(i, '"');
          out.append(n, '"');
          i += n - 1;
          state = State::normal;
          continue;
        }
        break;
      case State::literal:
      case State::ml_literal:
        // As a basic string: backslashes and double quotes escaped, the closing quotes double.
        if (c == '\\' || c == '"') {
          out += '\\';
          out += c;
          continue;
        }
        if (state == State::literal && c == '\'') {
          out += '"';
          state = State::normal;
          continue;
        }
        if (state == State::literal && c == '\n') state = State::normal;
        if (state == State::ml_literal && c == '\'' && run_of(i, '\'') >= 3) {
          const size_t n = run_of(i, '\'');
          out.append(n - 3, '\'');
          out += "\"\"\"";
          i += n - 1;
          state = State::normal;
          continue;
        }
        break;
    }
    out += c;
  }
  return out;
}

}  // namespace

bool ConfigFile::has_section(const std::string& name) const {
  return std::any_of(sections.begin(), sections.end(), [&](const ConfigSection& s) { return s.name == name; });
}

ConfigFile parse_config_toml(std::string_view text, const std::string& path) {
  const std::string ascii = ascii_toml(text, path);
  toml::table root;
  try {
    root = toml::parse(ascii, path);
  } catch (const toml::parse_error& e) {
    SAEDIFF_FAIL(path, ":", e.source().begin.line, ":", e.source().begin.column, ": not valid TOML: ", e.description());
  }
  ConfigFile file{path, {}, {}};
  // toml++ tables are ordered by key; the file's order (by line) reads better in messages and is stable.
  for (auto&& [key, node] : root) {
    const std::string name(key.str());
    if (const auto* table = node.as_table()) {
      SAEDIFF_CHECK(!table->is_inline(), path, ":", line_of(node), ": '", name,
                    "' is an inline table; options go under a [", name, "] header or at the top level");
      SAEDIFF_CHECK(!name.empty(), path, ":", key.source().begin.line, ": an empty section name");
      file.sections.push_back({name, static_cast<int>(key.source().begin.line)});
      for (auto&& [k, v] : *table) {
        const std::string sub(k.str());
        SAEDIFF_CHECK(!(v.is_table() && v.as_table()->is_inline()), path, ":", line_of(v), ": '", sub, "' in [", name,
                      "] is an inline table; an option's value is a string, number, boolean or array of those");
        SAEDIFF_CHECK(!v.is_table(), path, ":", line_of(v), ": [", name, ".", sub,
                      "]: sections do not nest; each command reads one [section] of keys");
        SAEDIFF_CHECK(!(v.is_array() && v.as_array()->is_array_of_tables() && !v.as_array()->empty()), path, ":",
                      line_of(v), ": [[", name, ".", sub, "]]: arrays of tables are not options");
        file.entries.push_back(entry_of(path, name, sub, v));
      }
      continue;
    }
    SAEDIFF_CHECK(!(node.is_array() && node.as_array()->is_array_of_tables() && !node.as_array()->empty()), path, ":",
                  line_of(node), ": [[", name, "]]: arrays of tables are not options; use a [", name, "] section");
    file.entries.push_back(entry_of(path, "", name, node));
  }
  std::stable_sort(file.sections.begin(), file.sections.end(),
                   [](const ConfigSection& a, const ConfigSection& b) { return a.line < b.line; });
  std::stable_sort(file.entries.begin(), file.entries.end(),
                   [](const ConfigEntry& a, const ConfigEntry& b) { return a.line < b.line; });
  return file;
}

ConfigFile read_config_toml(const std::string& path) {
  std::error_code ec;
  SAEDIFF_CHECK(std::filesystem::is_regular_file(path, ec), "config file '", path, "' not found");
  std::ifstream in(path, std::ios::binary);
  SAEDIFF_CHECK(in.good(), "cannot read config file '", path, "'");
  std::ostringstream text;
  text << in.rdbuf();
  SAEDIFF_CHECK(!in.bad(), "cannot read config file '", path, "'");
  return parse_config_toml(text.str(), path);
}

}  // namespace saediff
