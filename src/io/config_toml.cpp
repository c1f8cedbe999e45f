#include "io/config_toml.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#if __has_include(<toml++/toml.hpp>)
#include <toml++/toml.hpp>
#else
#include <toml++/toml.h>  // Debian 12's 3.3 ships only this name
#endif

#include "core/error.h"

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

}  // namespace

bool ConfigFile::has_section(const std::string& name) const {
  return std::any_of(sections.begin(), sections.end(), [&](const ConfigSection& s) { return s.name == name; });
}

ConfigFile parse_config_toml(std::string_view text, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse(text, path);
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
