#include "io/prompts.h"

#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"
#include "text/utf8.h"

namespace saediff {

std::vector<std::vector<std::string>> parse_csv(const std::string& input) {
  std::string_view data(input);
  if (data.substr(0, 3) == "\xEF\xBB\xBF") data.remove_prefix(3);  // UTF-8 byte-order mark
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, field_started = false;
  int64_t line = 1, quote_line = 0;
  auto end_field = [&]() {
    row.push_back(std::move(field));
    field.clear();
    field_started = false;
  };
  auto end_row = [&]() {
    end_field();
    if (!(row.size() == 1 && row[0].empty())) rows.push_back(std::move(row));  // skip blank lines
    row.clear();
  };
  for (size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < data.size() && data[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
          const char n = i + 1 < data.size() ? data[i + 1] : '\n';
          SAEDIFF_CHECK(n == ',' || n == '\n' || n == '\r', "CSV line ", line, ": text after a closing quote");
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"') {
      SAEDIFF_CHECK(!field_started, "CSV line ", line, ": a quote inside an unquoted field");
      quoted = true;
      field_started = true;
      quote_line = line;
    } else if (c == ',') {
      end_field();
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ++i;
      end_row();
      ++line;
    } else {
      field += c;
      field_started = true;
    }
  }
  SAEDIFF_CHECK(!quoted, "CSV: the quoted field opened on line ", quote_line, " never closes");
  if (field_started || !row.empty()) end_row();
  return rows;
}

std::string csv_escape(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::vector<Prompt> read_prompts(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SAEDIFF_CHECK(in, "cannot open prompt file '", path, "'");
  std::stringstream buf;
  buf << in.rdbuf();
  std::vector<std::vector<std::string>> rows;
  try {
    rows = parse_csv(buf.str());
  } catch (const Error& e) {
    SAEDIFF_FAIL(path, ": ", e.what());
  }
  SAEDIFF_CHECK(!rows.empty(), path, ": empty prompt file");
  const std::vector<std::string>& header = rows[0];
  int c_id = -1, c_cat = -1, c_prompt = -1;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == "id") c_id = static_cast<int>(i);
    if (header[i] == "category") c_cat = static_cast<int>(i);
    if (header[i] == "prompt") c_prompt = static_cast<int>(i);
  }
  SAEDIFF_CHECK(c_id >= 0 && c_cat >= 0 && c_prompt >= 0, path, ": the header must have id, category and prompt columns");
  std::vector<Prompt> prompts;
  std::set<std::string> seen;
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    SAEDIFF_CHECK(row.size() == header.size(), path, ": record ", r + 1, " has ", row.size(), " fields, the header has ",
                  header.size());
    Prompt p;
    p.id = row[static_cast<size_t>(c_id)];
    p.category = row[static_cast<size_t>(c_cat)];
    p.text = row[static_cast<size_t>(c_prompt)];
    SAEDIFF_CHECK(!p.id.empty(), path, ": record ", r + 1, " has an empty id");
    SAEDIFF_CHECK(!p.text.empty(), path, ": prompt '", p.id, "' is empty");
    SAEDIFF_CHECK(seen.insert(p.id).second, path, ": duplicate prompt id '", p.id, "'");
    for (const std::string& field : row) {
      const size_t bad = find_invalid_utf8(field);
      SAEDIFF_CHECK(bad == std::string::npos, path, ": record ", r + 1, " (id '", to_valid_utf8(p.id),
                    "') is not UTF-8 at byte ", bad, " of a field: save the file as UTF-8");
    }
    for (size_t i = 0; i < header.size(); ++i) {
      if (static_cast<int>(i) != c_id && static_cast<int>(i) != c_cat && static_cast<int>(i) != c_prompt)
        p.extra[header[i]] = row[i];
    }
    prompts.push_back(std::move(p));
  }
  return prompts;
}

}  // namespace saediff
