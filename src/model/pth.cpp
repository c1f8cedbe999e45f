#include "model/pth.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <variant>

#include "core/error.h"

namespace saediff {
namespace {

// ---- zip: the central directory of stored (uncompressed) entries, zip64 included ----------------------

uint64_t le(std::string_view b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<size_t>(i)]);
  return v;
}

struct ZipReader {
  std::string_view file;
  const std::string& where;
  std::map<std::string, std::string_view> entries;  // name -> data

  void need(uint64_t at, uint64_t n, const char* what) const {
    SAEDIFF_CHECK(at <= file.size() && n <= file.size() - at, where, ": ", what, " at byte ", at,
                  " runs past the end of the file (", file.size(), " bytes): truncated or not a torch.save file");
  }
  uint64_t u(uint64_t at, int n, const char* what) const {
    need(at, static_cast<uint64_t>(n), what);
    return le(file, static_cast<size_t>(at), n);
  }

  void read() {
    SAEDIFF_CHECK(file.size() >= 22, where, ": ", file.size(), " bytes is too small for a torch.save (zip) file");
    // End of central directory: the last signature 0x06054b50 within the final 22 + 65535 bytes.
    size_t eocd = std::string_view::npos;
    const size_t lowest = file.size() >= 22 + 65535 ? file.size() - 22 - 65535 : 0;
    for (size_t at = file.size() - 22 + 1; at-- > lowest;) {
      if (le(file, at, 4) == 0x06054b50) {
        eocd = at;
        break;
      }
    }
    SAEDIFF_CHECK(eocd != std::string_view::npos, where,
                  ": no zip end-of-central-directory record: not a torch.save file (legacy pre-1.6 .pth files "
                  "are not supported; re-save with torch.save)");
    uint64_t n_entries = u(eocd + 10, 2, "EOCD"), cd_size = u(eocd + 12, 4, "EOCD"), cd_offset = u(eocd + 16, 4, "EOCD");
    if ((n_entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) && eocd >= 20 &&
        le(file, eocd - 20, 4) == 0x07064b50) {  // zip64 locator -> zip64 EOCD record
      const uint64_t rec = u(eocd - 20 + 8, 8, "zip64 locator");
      SAEDIFF_CHECK(u(rec, 4, "zip64 EOCD") == 0x06064b50, where, ": bad zip64 end-of-central-directory record");
      n_entries = u(rec + 32, 8, "zip64 EOCD");
      cd_size = u(rec + 40, 8, "zip64 EOCD");
      cd_offset = u(rec + 48, 8, "zip64 EOCD");
    }
    need(cd_offset, cd_size, "the central directory");
    SAEDIFF_CHECK(n_entries <= cd_size / 46, where, ": the central directory claims ", n_entries, " entries in ",
                  cd_size, " bytes");
    uint64_t at = cd_offset;
    for (uint64_t i = 0; i < n_entries; ++i) {
      SAEDIFF_CHECK(u(at, 4, "a central directory entry") == 0x02014b50, where, ": bad central directory entry ", i);
      need(at, 46, "a central directory entry");
      const uint64_t method = u(at + 10, 2, "entry"), name_len = u(at + 28, 2, "entry"), extra_len = u(at + 30, 2, "entry"),
                     comment_len = u(at + 32, 2, "entry");
      uint64_t size = u(at + 24, 4, "entry"), compressed = u(at + 20, 4, "entry"), local = u(at + 42, 4, "entry");
      need(at + 46, name_len + extra_len + comment_len, "a central directory entry's name");
      const std::string name(file.substr(static_cast<size_t>(at + 46), static_cast<size_t>(name_len)));
      // zip64 extra field: the 8-byte values present for the 32-bit fields that are 0xFFFFFFFF, in order.
      for (uint64_t x = at + 46 + name_len; x + 4 <= at + 46 + name_len + extra_len;) {
        const uint64_t id = u(x, 2, "extra field"), len = u(x + 2, 2, "extra field");
        need(x + 4, len, "an extra field");
        if (id == 1) {
          uint64_t y = x + 4;
          for (uint64_t* field : {&size, &compressed, &local}) {
            if (*field != 0xFFFFFFFF) continue;
            SAEDIFF_CHECK(y + 8 <= x + 4 + len, where, ": short zip64 extra field of '", name, "'");
            *field = u(y, 8, "zip64 extra field");
            y += 8;
          }
        }
        x += 4 + len;
      }
      SAEDIFF_CHECK(method == 0, where, ": entry '", name, "' is compressed (method ", method,
                    "); torch.save stores entries uncompressed");
      SAEDIFF_CHECK(size == compressed, where, ": entry '", name, "' has different stored and original sizes");
      SAEDIFF_CHECK(u(local, 4, "a local header") == 0x04034b50, where, ": entry '", name, "' has no local header");
      const uint64_t data = local + 30 + u(local + 26, 2, "local header") + u(local + 28, 2, "local header");
      need(data, size, ("the data of '" + name + "'").c_str());
      SAEDIFF_CHECK(entries.emplace(name, file.substr(static_cast<size_t>(data), static_cast<size_t>(size))).second,
                    where, ": entry '", name, "' appears twice");
      at += 46 + name_len + extra_len + comment_len;
    }
  }
};

// ---- the restricted unpickler --------------------------------------------------------------------------

struct Value;
using ValuePtr = Value*;  // owned by the Unpickler's arena: a pickle can build cycles (a list appended to itself)

struct Global {
  std::string module, name;
};
struct StorageRef {
  std::string key, dtype;
  int64_t itemsize = 0, numel = 0;
};
struct Dict {
  std::vector<std::pair<ValuePtr, ValuePtr>> items;
};
struct Tuple {
  std::vector<ValuePtr> items;
};
struct List {
  std::vector<ValuePtr> items;
};
struct Mark {};
struct None {};

struct Value {
  std::variant<None, bool, int64_t, double, std::string, Global, StorageRef, Dict, Tuple, List, PthTensor, Mark> v;
};

struct StorageType {
  const char* name;
  const char* dtype;
  int64_t itemsize;
};
constexpr StorageType kStorages[] = {
    {"FloatStorage", "float32", 4}, {"DoubleStorage", "float64", 8}, {"HalfStorage", "float16", 2},
    {"BFloat16Storage", "bfloat16", 2}, {"LongStorage", "int64", 8},  {"IntStorage", "int32", 4},
    {"ShortStorage", "int16", 2},     {"CharStorage", "int8", 1},     {"ByteStorage", "uint8", 1},
    {"BoolStorage", "bool", 1}};

class Unpickler {
 public:
  Unpickler(std::string_view data, const std::map<std::string, std::string_view>& storages, const std::string& prefix,
            const std::string& where)
      : data_(data), storages_(storages), prefix_(prefix), where_(where) {}

  ValuePtr run() {
    while (true) {
      const auto op = static_cast<unsigned char>(byte());
      switch (op) {
        case 0x80: byte(); break;                         // PROTO
        case 0x95: bytes(8); break;                       // FRAME
        case '.': return pop();                           // STOP
        case '(': push(make(Mark{})); break;              // MARK
        case '}': push(make(Dict{})); break;              // EMPTY_DICT
        case ']': push(make(List{})); break;              // EMPTY_LIST
        case ')': push(make(Tuple{})); break;             // EMPTY_TUPLE
        case 'N': push(make(None{})); break;
        case 0x88: push(make(true)); break;               // NEWTRUE
        case 0x89: push(make(false)); break;              // NEWFALSE
        case 'K': push(make(static_cast<int64_t>(uint(1)))); break;  // BININT1
        case 'M': push(make(static_cast<int64_t>(uint(2)))); break;  // BININT2
        case 'J': push(make(static_cast<int64_t>(static_cast<int32_t>(uint(4))))); break;  // BININT
        case 0x8a: {                                      // LONG1
          const auto n = static_cast<int>(uint(1));
          SAEDIFF_CHECK(n <= 8, where_, ": pickle integer of ", n, " bytes is too large");
          uint64_t v = n == 0 ? 0 : le(bytes(static_cast<size_t>(n)), 0, n);
          if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
          push(make(static_cast<int64_t>(v)));
          break;
        }
        case 'G': {                                       // BINFLOAT, big-endian
          const std::string_view b = bytes(8);
          uint64_t bits = 0;
          for (char c : b) bits = (bits << 8) | static_cast<unsigned char>(c);
          double d;
          std::memcpy(&d, &bits, sizeof d);
          push(make(d));
          break;
        }
        case 'X': push(make(std::string(bytes(uint(4))))); break;     // BINUNICODE
        case 0x8c: push(make(std::string(bytes(uint(1))))); break;    // SHORT_BINUNICODE
        case 'T': push(make(std::string(bytes(uint(4))))); break;     // BINSTRING
        case 'U': push(make(std::string(bytes(uint(1))))); break;     // SHORT_BINSTRING
        case 'q': memo(uint(1)); break;                   // BINPUT
        case 'r': memo(uint(4)); break;                   // LONG_BINPUT
        case 0x94: memo(memo_.size()); break;             // MEMOIZE
        case 'h': push(get(uint(1))); break;              // BINGET
        case 'j': push(get(uint(4))); break;              // LONG_BINGET
        case 'c': {                                       // GLOBAL "module\nname\n"
          const std::string module = line(), name = line();
          push(global(module, name));
          break;
        }
        case 0x93: {                                      // STACK_GLOBAL
          const std::string name = as_string(pop()), module = as_string(pop());
          push(global(module, name));
          break;
        }
        case 't': push(make(Tuple{pop_to_mark()})); break;
        case 0x85: push(make(Tuple{{pop()}})); break;
        case 0x86: {
          ValuePtr b = pop(), a = pop();
          push(make(Tuple{{a, b}}));
          break;
        }
        case 0x87: {
          ValuePtr c = pop(), b = pop(), a = pop();
          push(make(Tuple{{a, b, c}}));
          break;
        }
        case 'a': {                                       // APPEND
          ValuePtr x = pop();
          list_of(top()).items.push_back(x);
          break;
        }
        case 'e': {                                       // APPENDS
          std::vector<ValuePtr> xs = pop_to_mark();
          auto& l = list_of(top()).items;
          l.insert(l.end(), xs.begin(), xs.end());
          break;
        }
        case 's': {                                       // SETITEM
          ValuePtr v = pop(), k = pop();
          dict_of(top()).items.emplace_back(k, v);
          break;
        }
        case 'u': {                                       // SETITEMS
          std::vector<ValuePtr> kv = pop_to_mark();
          SAEDIFF_CHECK(kv.size() % 2 == 0, where_, ": SETITEMS with an odd number of values");
          for (size_t i = 0; i < kv.size(); i += 2) dict_of(top()).items.emplace_back(kv[i], kv[i + 1]);
          break;
        }
        case 'b': {                                       // BUILD: only an OrderedDict's __dict__ (_metadata)
          pop();
          dict_of(top());
          break;
        }
        case 'Q': push(persistent(pop())); break;         // BINPERSID
        case 'R': {                                       // REDUCE
          ValuePtr args = pop(), f = pop();
          push(reduce(*f, *args));
          break;
        }
        default:
          SAEDIFF_FAIL(where_, ": pickle opcode 0x", hex(op), " at byte ", pos_ - 1,
                       " is not used by a torch.save state dict; refusing the file");
      }
    }
  }

 private:
  ValuePtr make(auto x) {
    arena_.push_back(Value{std::move(x)});
    return &arena_.back();
  }
  static std::string hex(unsigned v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02x", v);
    return buf;
  }
  char byte() {
    SAEDIFF_CHECK(pos_ < data_.size(), where_, ": data.pkl ends without STOP (truncated)");
    return data_[pos_++];
  }
  std::string_view bytes(size_t n) {
    SAEDIFF_CHECK(n <= data_.size() - pos_, where_, ": data.pkl: a ", n, "-byte item runs past its end");
    const std::string_view out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  size_t uint(int n) { return static_cast<size_t>(le(bytes(static_cast<size_t>(n)), 0, n)); }
  std::string line() {
    const size_t end = data_.find('\n', pos_);
    SAEDIFF_CHECK(end != std::string_view::npos && end - pos_ < 256, where_, ": data.pkl: bad GLOBAL");
    std::string out(data_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  void push(ValuePtr v) {
    SAEDIFF_CHECK(stack_.size() < 1000000 && arena_.size() < 50000000, where_, ": data.pkl: too many values");
    stack_.push_back(v);
  }
  ValuePtr pop() {
    SAEDIFF_CHECK(!stack_.empty() && !std::holds_alternative<Mark>(stack_.back()->v), where_,
                  ": data.pkl: stack underflow");
    ValuePtr v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value& top() {
    SAEDIFF_CHECK(!stack_.empty(), where_, ": data.pkl: stack underflow");
    return *stack_.back();
  }
  std::vector<ValuePtr> pop_to_mark() {
    size_t m = stack_.size();
    while (m > 0 && !std::holds_alternative<Mark>(stack_[m - 1]->v)) --m;
    SAEDIFF_CHECK(m > 0, where_, ": data.pkl: no MARK");
    std::vector<ValuePtr> out(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m - 1);
    return out;
  }
  void memo(size_t i) {
    SAEDIFF_CHECK(i < (size_t{1} << 20) && !stack_.empty(), where_, ": data.pkl: bad memo index ", i);
    if (i >= memo_.size()) memo_.resize(i + 1);
    memo_[i] = stack_.back();
  }
  ValuePtr get(size_t i) {
    SAEDIFF_CHECK(i < memo_.size() && memo_[i] != nullptr, where_, ": data.pkl: memo entry ", i, " is not set");
    return memo_[i];
  }
  Dict& dict_of(Value& v) {
    SAEDIFF_CHECK(std::holds_alternative<Dict>(v.v), where_, ": data.pkl: SETITEM/BUILD on a value that is not a dict");
    return std::get<Dict>(v.v);
  }
  List& list_of(Value& v) {
    SAEDIFF_CHECK(std::holds_alternative<List>(v.v), where_, ": data.pkl: APPEND on a value that is not a list");
    return std::get<List>(v.v);
  }
  std::string as_string(const ValuePtr& v) {
    SAEDIFF_CHECK(std::holds_alternative<std::string>(v->v), where_, ": data.pkl: expected a string");
    return std::get<std::string>(v->v);
  }
  int64_t as_int(const ValuePtr& v, const char* what) {
    SAEDIFF_CHECK(std::holds_alternative<int64_t>(v->v), where_, ": data.pkl: ", what, " is not an integer");
    return std::get<int64_t>(v->v);
  }
  std::vector<int64_t> int_tuple(const ValuePtr& v, const char* what) {
    SAEDIFF_CHECK(std::holds_alternative<Tuple>(v->v), where_, ": data.pkl: ", what, " is not a tuple");
    std::vector<int64_t> out;
    for (const ValuePtr& x : std::get<Tuple>(v->v).items) out.push_back(as_int(x, what));
    return out;
  }

  ValuePtr global(const std::string& module, const std::string& name) {
    const bool ok = (module == "collections" && name == "OrderedDict") ||
                    (module == "torch._utils" && (name == "_rebuild_tensor_v2" || name == "_rebuild_parameter"));
    bool storage = false;
    if (module == "torch")
      for (const StorageType& s : kStorages) storage = storage || name == s.name;
    SAEDIFF_CHECK(ok || storage, where_, ": refusing pickle global ", module, ".", name,
                  ": a .pth is read as a tensor state dict only and never executes anything");
    return make(Global{module, name});
  }

  // ('storage', torch.XStorage, key, location, numel) -> the storage's bytes.
  ValuePtr persistent(const ValuePtr& pid) {
    SAEDIFF_CHECK(std::holds_alternative<Tuple>(pid->v), where_, ": data.pkl: a persistent id is not a tuple");
    const auto& t = std::get<Tuple>(pid->v).items;
    SAEDIFF_CHECK(t.size() == 5 && as_string(t[0]) == "storage" && std::holds_alternative<Global>(t[1]->v), where_,
                  ": data.pkl: unexpected persistent id (expected ('storage', type, key, location, numel))");
    const Global& g = std::get<Global>(t[1]->v);
    StorageRef s;
    for (const StorageType& st : kStorages) {
      if (g.name == st.name) {
        s.dtype = st.dtype;
        s.itemsize = st.itemsize;
      }
    }
    SAEDIFF_CHECK(s.itemsize > 0, where_, ": data.pkl: unknown storage type torch.", g.name);
    s.key = as_string(t[2]);
    s.numel = as_int(t[4], "a storage's size");
    const auto it = storages_.find(prefix_ + "data/" + s.key);
    SAEDIFF_CHECK(it != storages_.end(), where_, ": storage '", s.key, "' has no entry ", prefix_, "data/", s.key,
                  " in the archive");
    SAEDIFF_CHECK(s.numel >= 0 && static_cast<uint64_t>(s.numel) <= it->second.size() / static_cast<uint64_t>(s.itemsize),
                  where_, ": storage '", s.key, "' claims ", s.numel, " elements of ", s.itemsize, " bytes but holds ",
                  it->second.size(), " bytes");
    return make(s);
  }

  ValuePtr reduce(const Value& f, const Value& args) {
    SAEDIFF_CHECK(std::holds_alternative<Global>(f.v) && std::holds_alternative<Tuple>(args.v), where_,
                  ": data.pkl: REDUCE of something that is not an allowed global");
    const Global& g = std::get<Global>(f.v);
    const auto& a = std::get<Tuple>(args.v).items;
    if (g.name == "OrderedDict") return make(Dict{});
    if (g.name == "_rebuild_parameter") {
      SAEDIFF_CHECK(!a.empty() && std::holds_alternative<PthTensor>(a[0]->v), where_, ": bad _rebuild_parameter");
      return a[0];
    }
    SAEDIFF_CHECK(g.name == "_rebuild_tensor_v2" && a.size() >= 4 && std::holds_alternative<StorageRef>(a[0]->v), where_,
                  ": data.pkl: ", g.module, ".", g.name, " is not applied as torch.save applies it");
    const StorageRef& s = std::get<StorageRef>(a[0]->v);
    PthTensor t;
    t.dtype = s.dtype;
    t.itemsize = s.itemsize;
    t.offset = as_int(a[1], "a storage offset");
    t.shape = int_tuple(a[2], "a tensor size");
    t.stride = int_tuple(a[3], "a tensor stride");
    SAEDIFF_CHECK(t.shape.size() == t.stride.size() && t.shape.size() <= 8, where_, ": tensor size and stride differ in rank");
    // The furthest element must lie inside the storage.
    int64_t last = t.offset;
    bool empty = false;
    SAEDIFF_CHECK(t.offset >= 0 && t.offset <= s.numel, where_, ": tensor offset ", t.offset, " outside its storage");
    for (size_t i = 0; i < t.shape.size(); ++i) {
      SAEDIFF_CHECK(t.shape[i] >= 0 && t.shape[i] <= (int64_t{1} << 40) && t.stride[i] >= 0 && t.stride[i] <= (int64_t{1} << 40),
                    where_, ": bad tensor size or stride");
      empty = empty || t.shape[i] == 0;
      if (t.shape[i] > 0) last += (t.shape[i] - 1) * t.stride[i];
    }
    SAEDIFF_CHECK(empty || last < s.numel, where_, ": a tensor reaches element ", last, " of a ", s.numel,
                  "-element storage");
    t.storage = storages_.at(prefix_ + "data/" + s.key).substr(0, static_cast<size_t>(s.numel * s.itemsize));
    return make(std::move(t));
  }

  std::deque<Value> arena_;  // stable addresses
  std::string_view data_;
  size_t pos_ = 0;
  std::vector<ValuePtr> stack_, memo_;
  const std::map<std::string, std::string_view>& storages_;
  const std::string& prefix_;
  const std::string& where_;
};

}  // namespace

std::map<std::string, PthTensor> parse_pth(std::string_view bytes, const std::string& where) {
  ZipReader zip{bytes, where, {}};
  zip.read();
  // The archive's entries share one folder name: <name>/data.pkl, <name>/data/<key>, <name>/byteorder.
  std::string prefix;
  for (const auto& [name, data] : zip.entries) {
    if (name.size() >= 8 && name.compare(name.size() - 8, 8, "data.pkl") == 0 &&
        std::count(name.begin(), name.end(), '/') == 1) {
      prefix = name.substr(0, name.size() - 8);
    }
  }
  SAEDIFF_CHECK(zip.entries.count(prefix + "data.pkl"), where, ": no <archive>/data.pkl entry: not a torch.save file");
  if (const auto it = zip.entries.find(prefix + "byteorder"); it != zip.entries.end()) {
    SAEDIFF_CHECK(it->second == "little", where, ": byteorder '", std::string(it->second.substr(0, 16)),
                  "' (only little-endian files are read)");
  }
  Unpickler u(zip.entries.at(prefix + "data.pkl"), zip.entries, prefix, where);
  const ValuePtr root = u.run();
  SAEDIFF_CHECK(std::holds_alternative<Dict>(root->v), where, ": expected a state dict (a dict of tensors) at the top");
  std::map<std::string, PthTensor> out;
  for (const auto& [k, v] : std::get<Dict>(root->v).items) {
    SAEDIFF_CHECK(std::holds_alternative<std::string>(k->v), where, ": a state dict key is not a string");
    const std::string& name = std::get<std::string>(k->v);
    SAEDIFF_CHECK(std::holds_alternative<PthTensor>(v->v), where, ": '", name,
                  "' is not a tensor: expected a flat state dict (name -> tensor)");
    SAEDIFF_CHECK(out.emplace(name, std::get<PthTensor>(v->v)).second, where, ": '", name, "' appears twice");
  }
  return out;
}

MappedFile MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  SAEDIFF_CHECK(fd >= 0, "cannot open '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    SAEDIFF_FAIL("cannot stat '", path, "': ", std::strerror(e));
  }
  MappedFile m;
  m.size_ = static_cast<size_t>(st.st_size);
  if (m.size_ > 0) {
    m.data_ = mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int e = errno;
    ::close(fd);
    SAEDIFF_CHECK(m.data_ != MAP_FAILED, "cannot mmap '", path, "': ", std::strerror(e));
  } else {
    ::close(fd);
  }
  return m;
}

MappedFile::MappedFile(MappedFile&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr && data_ != MAP_FAILED) munmap(data_, size_);
}

}  // namespace saediff
