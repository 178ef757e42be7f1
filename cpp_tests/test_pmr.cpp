// vais_alloc.hpp under real std::pmr containers: every allocator family
// serves vector, string, map, unordered_map, list and vector<string> (the
// strings allocating from the same resource by uses-allocator
// construction), and gets every byte back once they are gone. Then moves
// of the owners, is_equal, and the failures that must throw.
//
// One program, no framework: each TEST prints "ok" or "FAIL" and its
// name, a failed check prints file:line and both values, and the last line
// is "cpp: N passed, M failed" (the exit status is 0 only when M is 0).

#include "vais_alloc.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <list>
#include <map>
#include <memory_resource>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

// ---- harness ---------------------------------------------------------------

namespace {

bool current_failed;

struct test_case {
    std::string name;
    void (*run)();
};

std::vector<test_case> &registry() {
    static std::vector<test_case> tests;
    return tests;
}

struct registrar {
    registrar(std::string name, void (*run)()) { registry().push_back({std::move(name), run}); }
};

void fail_at(const char *file, int line) {
    std::cerr << "  " << file << ":" << line << ": ";
    current_failed = true;
}

template <class A, class B>
void check_cmp(bool holds, const A &a, const B &b, const char *text, const char *file, int line) {
    if (holds) return;
    fail_at(file, line);
    std::cerr << text << ": " << a << " vs " << b << "\n";
}

}  // namespace

#define TEST(name)                                                     \
    static void test_##name();                                         \
    static const registrar register_##name{#name, test_##name};        \
    static void test_##name()

#define CHECK(cond)                                                    \
    do {                                                               \
        if (!(cond)) {                                                 \
            fail_at(__FILE__, __LINE__);                               \
            std::cerr << "CHECK(" #cond ")\n";                         \
        }                                                              \
    } while (0)

// Both sides evaluated once; on failure both values are printed.
#define CHECK_CMP(a, op, b)                                            \
    do {                                                               \
        const auto &check_a_ = (a);                                    \
        const auto &check_b_ = (b);                                    \
        check_cmp(check_a_ op check_b_, check_a_, check_b_,            \
                  "CHECK(" #a " " #op " " #b ")", __FILE__, __LINE__); \
    } while (0)

#define CHECK_EQ(a, b) CHECK_CMP(a, ==, b)
#define CHECK_NE(a, b) CHECK_CMP(a, !=, b)
#define CHECK_LT(a, b) CHECK_CMP(a, <, b)
#define CHECK_LE(a, b) CHECK_CMP(a, <=, b)
#define CHECK_GT(a, b) CHECK_CMP(a, >, b)

// `expr` throws `type` (anything else, or nothing, fails).
#define CHECK_THROWS(expr, type)                                       \
    do {                                                               \
        const char *check_got_ = "nothing";                            \
        try {                                                          \
            (void)(expr);                                              \
        } catch (const type &) {                                       \
            check_got_ = nullptr;                                      \
        } catch (const std::exception &e) {                            \
            check_got_ = e.what();                                     \
        } catch (...) {                                                \
            check_got_ = "a non-std exception";                        \
        }                                                              \
        if (check_got_ != nullptr) {                                   \
            fail_at(__FILE__, __LINE__);                               \
            std::cerr << "CHECK_THROWS(" #expr ", " #type "): got "    \
                      << check_got_ << "\n";                           \
        }                                                              \
    } while (0)

// ---- helpers ---------------------------------------------------------------

namespace {

constexpr std::int64_t kArenaBytes = std::int64_t{8} << 20;
constexpr std::int64_t kPoolBlock = 256;
constexpr std::int64_t kPoolBlocks = 4096;

std::int64_t address(const void *p) {
    return static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(p));
}

// `n`, hidden from the optimizer: a constant size past PTRDIFF_MAX passed
// to allocate() is a compile-time warning, and the point is to pass one.
std::size_t opaque(std::size_t n) {
    volatile std::size_t hidden = n;
    return hidden;
}

bool same(VaisAllocator a, VaisAllocator b) { return a.ctx == b.ctx && a.vtable == b.vtable; }

// The text of entry i: longer than any small-string buffer, and distinct.
std::string text(int i) {
    return "entry " + std::to_string(i) + ": " + std::string(48, static_cast<char>('a' + i % 26));
}

// The index of the first element of `seq` that is not `expected(index)`,
// or -1: one line of output for a whole container.
template <class Seq, class Expected>
long first_mismatch(const Seq &seq, Expected expected) {
    long index = 0;
    for (const auto &element : seq) {
        if (!(element == expected(static_cast<int>(index)))) return index;
        ++index;
    }
    return -1;
}

// A VaisAllocator the test writes itself (the optional entries NULL),
// forwarding to the global allocator and counting what is live: proof that
// vais::resource takes any allocator, and a byte count for the global one.
struct counting {
    std::int64_t live_blocks = 0;
    std::int64_t live_bytes = 0;

    static Allocation alloc(void *ctx, Layout layout) {
        const Allocation block = global_alloc(layout);
        if (block.ptr != 0) {
            static_cast<counting *>(ctx)->live_blocks += 1;
            static_cast<counting *>(ctx)->live_bytes += layout.size;
        }
        return block;
    }
    static std::int64_t free(void *ctx, std::int64_t ptr, Layout layout) {
        if (ptr == 0) return 0;
        global_dealloc(ptr, layout);
        static_cast<counting *>(ctx)->live_blocks -= 1;
        static_cast<counting *>(ctx)->live_bytes -= layout.size;
        return 0;
    }
    static constexpr VaisAllocatorVtable vtable{
        VAIS_ALLOCATOR_VTABLE_VERSION,
        VAIS_ALLOC_CAP_FREE | VAIS_ALLOC_CAP_ANY_SIZE | VAIS_ALLOC_CAP_ANY_ALIGN,
        alloc, nullptr, nullptr, nullptr, free, nullptr};

    VaisAllocator allocator() { return VaisAllocator{this, &vtable}; }
};

// ---- the allocators under test ---------------------------------------------
//
// Each gives its resource, `holds(p)` (checked while containers are alive:
// the memory really comes from this allocator) and `check_reclaimed()`
// (after they are gone: every byte went back).

struct bump_arena {
    static constexpr const char *name = "bump";
    vais::bump owner{kArenaBytes};
    vais::resource &resource() { return owner.resource(); }
    void holds(const void *p) { CHECK_EQ(bump_owns(owner.handle(), address(p)), 1); }
    // Only the most recent block is reclaimed on free: the rest at reset.
    void check_reclaimed() {
        CHECK_EQ(bump_reset(owner.handle()), 0);
        CHECK_EQ(bump_remaining(owner.handle()), kArenaBytes);
    }
};

struct free_list_arena {
    static constexpr const char *name = "free_list";
    vais::free_list owner{kArenaBytes};
    vais::resource &resource() { return owner.resource(); }
    void holds(const void *) { CHECK_GT(freelist_total_allocated(owner.handle()), 0); }
    void check_reclaimed() {
        CHECK_EQ(freelist_total_allocated(owner.handle()), 0);
        CHECK_EQ(freelist_remaining(owner.handle()), kArenaBytes);
    }
};

struct stack_arena {
    static constexpr const char *name = "stack";
    vais::stack owner{kArenaBytes};
    vais::resource &resource() { return owner.resource(); }
    void holds(const void *) { CHECK_LT(stack_remaining(owner.handle()), kArenaBytes); }
    // Out-of-order frees are reclaimed when the block above them goes.
    void check_reclaimed() {
        CHECK_EQ(stack_remaining(owner.handle()), kArenaBytes);
        CHECK_EQ(stack_depth(owner.handle()), 0);
    }
};

struct pool_arena {
    static constexpr const char *name = "pool";
    vais::pool owner{kPoolBlock, kPoolBlocks};
    vais::resource &resource() { return owner.resource(); }
    // pool_owns takes block starts only, and a node's element is inside it.
    void holds(const void *) { CHECK_GT(pool_num_allocated(owner.handle()), 0); }
    void holds_block(const void *p) { CHECK_EQ(pool_owns(owner.handle(), address(p)), 1); }
    void check_reclaimed() {
        CHECK_EQ(pool_num_allocated(owner.handle()), 0);
        CHECK_EQ(pool_num_free_blocks(owner.handle()), kPoolBlocks);
    }
};

// vais::global_resource() keeps no count: Valgrind and ASan check its
// blocks all went back (leak check on).
struct global_arena {
    static constexpr const char *name = "global";
    vais::resource &resource() { return vais::global_resource(); }
    void holds(const void *p) { CHECK(p != nullptr); }
    void check_reclaimed() {}
};

struct counting_arena {
    static constexpr const char *name = "counting";
    counting counts;
    vais::resource owner{counts.allocator()};
    vais::resource &resource() { return owner; }
    void holds(const void *) { CHECK_GT(counts.live_blocks, 0); }
    void check_reclaimed() {
        CHECK_EQ(counts.live_blocks, 0);
        CHECK_EQ(counts.live_bytes, 0);
    }
};

// Runs `body` over a fresh arena, then checks the arena got everything
// back (the body's containers are destroyed by then).
template <class Arena, void (*body)(Arena &)>
void over_fresh() {
    Arena arena;
    body(arena);
    arena.check_reclaimed();
}

// ---- container bodies, for allocators that serve any size ------------------

template <class Arena>
void vector_of_ints(Arena &arena) {
    std::pmr::vector<int> v{&arena.resource()};
    for (int i = 0; i < 10'000; ++i) v.push_back(3 * i + 1);
    CHECK_EQ(v.size(), std::size_t{10'000});
    CHECK_EQ(first_mismatch(v, [](int i) { return 3 * i + 1; }), -1L);
    CHECK(v.get_allocator().resource() == &arena.resource());
    arena.holds(v.data());

    std::pmr::vector<int> copy{v, &arena.resource()};
    v.resize(100);
    v.shrink_to_fit();
    CHECK_EQ(first_mismatch(v, [](int i) { return 3 * i + 1; }), -1L);
    CHECK_EQ(copy.size(), std::size_t{10'000});
    CHECK_EQ(copy.back(), 3 * 9'999 + 1);
}

template <class Arena>
void long_strings(Arena &arena) {
    std::pmr::string s{&arena.resource()};
    for (int i = 0; i < 5'000; ++i) s += static_cast<char>('a' + i % 26);
    CHECK_EQ(s.size(), std::size_t{5'000});
    CHECK_EQ(first_mismatch(s, [](int i) { return static_cast<char>('a' + i % 26); }), -1L);
    CHECK(s.get_allocator().resource() == &arena.resource());
    arena.holds(s.data());

    std::pmr::string twice{s, &arena.resource()};
    twice += s;
    twice.insert(0, text(7));
    CHECK_EQ(twice.size(), 10'000 + text(7).size());
    CHECK_EQ(std::string_view(twice).substr(0, text(7).size()), text(7));
    CHECK_EQ(std::string_view(twice).substr(text(7).size() + 5'000), std::string_view(s));
}

template <class Arena>
void map_of_strings(Arena &arena) {
    std::pmr::map<int, std::pmr::string> m{&arena.resource()};
    for (int i = 0; i < 1'000; ++i) m.try_emplace(i, text(i).c_str());
    for (int i = 0; i < 1'000; i += 2) m.erase(i);
    CHECK_EQ(m.size(), std::size_t{500});
    int wrong = 0, foreign = 0;
    for (const auto &[key, value] : m) {
        wrong += key % 2 == 0 || std::string_view(value) != text(key);
        foreign += value.get_allocator().resource() != &arena.resource();
    }
    CHECK_EQ(wrong, 0);
    CHECK_EQ(foreign, 0);
    arena.holds(m.at(1).data());
    m[2000] = text(2000).c_str();
    CHECK_EQ(std::string_view(m.at(2000)), text(2000));
}

template <class Arena>
void unordered_map_of_ints(Arena &arena) {
    std::pmr::unordered_map<int, int> m{&arena.resource()};
    for (int i = 0; i < 10'000; ++i) m.emplace(i, i * i);
    for (int i = 0; i < 10'000; i += 3) m.erase(i);
    CHECK_EQ(m.size(), std::size_t{10'000 - 3'334});
    int wrong = 0;
    for (int i = 0; i < 10'000; ++i) {
        const auto it = m.find(i);
        wrong += i % 3 == 0 ? it != m.end() : it == m.end() || it->second != i * i;
    }
    CHECK_EQ(wrong, 0);
    arena.holds(&*m.begin());
    m.rehash(0);
    CHECK_EQ(m.at(10), 100);
}

template <class Arena>
void list_of_ints(Arena &arena) {
    std::pmr::list<int> l{&arena.resource()};
    for (int i = 0; i < 5'000; ++i) {
        l.push_back(i);
        l.push_front(-i - 1);
    }
    CHECK_EQ(l.size(), std::size_t{10'000});
    arena.holds(&l.front());
    l.remove_if([](int x) { return x % 2 != 0; });
    l.sort([](int a, int b) { return a > b; });
    std::pmr::list<int> negatives{&arena.resource()};
    negatives.splice(negatives.end(), l, std::find(l.begin(), l.end(), -2), l.end());
    // l: 4998, 4996, ..., 0; negatives: -2, -4, ..., -5000.
    CHECK_EQ(l.size(), std::size_t{2'500});
    CHECK_EQ(negatives.size(), std::size_t{2'500});
    CHECK_EQ(first_mismatch(l, [](int i) { return 4'998 - 2 * i; }), -1L);
    CHECK_EQ(first_mismatch(negatives, [](int i) { return -2 - 2 * i; }), -1L);
}

template <class Arena>
void vector_of_strings(Arena &arena) {
    std::pmr::vector<std::pmr::string> v{&arena.resource()};
    for (int i = 0; i < 1'000; ++i) v.emplace_back(text(i).c_str());
    v.insert(v.begin(), text(-1).c_str());
    CHECK_EQ(v.size(), std::size_t{1'001});
    int wrong = 0, foreign = 0;
    for (int i = 0; i < 1'001; ++i) {
        wrong += std::string_view(v[i]) != text(i - 1);
        foreign += v[i].get_allocator().resource() != &arena.resource();
    }
    CHECK_EQ(wrong, 0);
    CHECK_EQ(foreign, 0);
    arena.holds(v.data());
    arena.holds(v[500].data());
    v.erase(v.begin(), v.begin() + 500);
    CHECK_EQ(std::string_view(v.front()), text(499));
}

// Zero-size requests (std::pmr may make them) and over-aligned ones.
template <class Arena>
void odd_requests(Arena &arena) {
    vais::resource &r = arena.resource();
    void *empty = r.allocate(0, 16);
    CHECK(empty != nullptr);
    CHECK_EQ(address(empty) % 16, 0);
    void *wide = r.allocate(100, 256);
    CHECK_EQ(address(wide) % 256, 0);
    void *empty_too = r.allocate(0, 1);
    CHECK(empty_too != nullptr);
    CHECK(empty_too != empty);
    r.deallocate(empty_too, 0, 1);
    r.deallocate(wide, 100, 256);
    r.deallocate(empty, 0, 16);
    // Sizes that cannot cross as int64_t, and one that overflows once
    // rounded up to its alignment.
    CHECK_THROWS(r.allocate(opaque(static_cast<std::size_t>(-1)), 8), std::bad_alloc);
    CHECK_THROWS(r.allocate(opaque(static_cast<std::size_t>(INT64_MAX)), 16), std::bad_alloc);
}

// ---- container bodies for the pool: every request fits one 256-byte block --

void pool_list_and_map(pool_arena &arena) {
    std::pmr::list<int> l{&arena.resource()};
    for (int i = 0; i < 2'000; ++i) l.push_back(i);
    l.remove_if([](int x) { return x % 2 == 0; });
    CHECK_EQ(l.size(), std::size_t{1'000});
    CHECK_EQ(first_mismatch(l, [](int i) { return 2 * i + 1; }), -1L);
    arena.holds(&l.front());
    CHECK_EQ(pool_num_allocated(arena.owner.handle()), 1'000);

    // A node and its string's buffer: one block each.
    std::pmr::map<int, std::pmr::string> m{&arena.resource()};
    for (int i = 0; i < 1'000; ++i) m.try_emplace(i, text(i).c_str());
    int wrong = 0;
    for (const auto &[key, value] : m)
        wrong += std::string_view(value) != text(key) ||
                 value.get_allocator().resource() != &arena.resource();
    CHECK_EQ(wrong, 0);
    CHECK_EQ(pool_num_allocated(arena.owner.handle()), 3'000);
}

void pool_unordered_map(pool_arena &arena) {
    std::pmr::unordered_map<int, int> m{&arena.resource()};
    for (int i = 0; i < 20; ++i) m.emplace(i, -i);
    CHECK_LE(m.bucket_count() * sizeof(void *), std::size_t{kPoolBlock});
    // 1000 buckets do not fit a block: the rehash throws, the map is intact.
    CHECK_THROWS(m.reserve(1'000), std::bad_alloc);
    CHECK_EQ(m.size(), std::size_t{20});
    int wrong = 0;
    for (int i = 0; i < 20; ++i) wrong += m.at(i) != -i;
    CHECK_EQ(wrong, 0);
}

void pool_vectors_within_a_block(pool_arena &arena) {
    std::pmr::vector<int> ints{&arena.resource()};
    ints.reserve(kPoolBlock / sizeof(int));
    for (int i = 0; i < 64; ++i) ints.push_back(i);
    arena.holds_block(ints.data());
    // Growth asks for 512 bytes: refused, and the vector is unchanged.
    CHECK_THROWS(ints.push_back(64), std::bad_alloc);
    CHECK_EQ(ints.size(), std::size_t{64});
    CHECK_EQ(first_mismatch(ints, [](int i) { return i; }), -1L);

    std::pmr::vector<std::pmr::string> strings{&arena.resource()};
    strings.reserve(kPoolBlock / sizeof(std::pmr::string));
    const std::size_t fit = strings.capacity();
    for (std::size_t i = 0; i < fit; ++i) strings.emplace_back(text(int(i)).c_str());
    CHECK_THROWS(strings.emplace_back("one more"), std::bad_alloc);
    CHECK_EQ(strings.size(), fit);
    int wrong = 0;
    for (std::size_t i = 0; i < fit; ++i)
        wrong += std::string_view(strings[i]) != text(int(i)) ||
                 strings[i].get_allocator().resource() != &arena.resource();
    CHECK_EQ(wrong, 0);

    std::pmr::string s{&arena.resource()};
    for (int i = 0; i < 200; ++i) s += static_cast<char>('A' + i % 26);
    arena.holds_block(s.data());
    const std::pmr::string before{s, &arena.resource()};
    CHECK_THROWS(s.append(200, '!'), std::bad_alloc);
    CHECK(s == before);
}

// A request larger than a block, or more aligned than the blocks, is one
// the pool never serves: std::bad_alloc, and last error UNSUPPORTED.
void pool_refuses_out_of_range(pool_arena &arena) {
    vais::resource &r = arena.resource();
    const std::int64_t block = pool_block_size(arena.owner.handle());
    vais_alloc_clear_error();
    CHECK_THROWS(r.allocate(static_cast<std::size_t>(block) + 1, 8), std::bad_alloc);
    CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_UNSUPPORTED);
    CHECK_THROWS(r.allocate(16, 64), std::bad_alloc);
    CHECK_THROWS(r.allocate(opaque(static_cast<std::size_t>(-1)), 8), std::bad_alloc);
    void *whole = r.allocate(static_cast<std::size_t>(block), 16);
    void *empty = r.allocate(0, 1);
    CHECK(empty != nullptr && empty != whole);
    CHECK_EQ(pool_num_allocated(arena.owner.handle()), 2);
    r.deallocate(empty, 0, 1);
    r.deallocate(whole, static_cast<std::size_t>(block), 16);
}

}  // namespace

// ---- registration: each body over each allocator ---------------------------

#define OVER(Arena, body)                                                            \
    static const registrar register_##Arena##_##body{                                \
        std::string(Arena::name) + "/" #body, over_fresh<Arena, body<Arena>>};

#define OVER_ANY_SIZE(body)                                                          \
    OVER(bump_arena, body)                                                           \
    OVER(free_list_arena, body)                                                      \
    OVER(stack_arena, body)                                                          \
    OVER(global_arena, body)                                                         \
    OVER(counting_arena, body)

OVER_ANY_SIZE(vector_of_ints)
OVER_ANY_SIZE(long_strings)
OVER_ANY_SIZE(map_of_strings)
OVER_ANY_SIZE(unordered_map_of_ints)
OVER_ANY_SIZE(list_of_ints)
OVER_ANY_SIZE(vector_of_strings)
OVER_ANY_SIZE(odd_requests)

#define OVER_POOL(body) \
    static const registrar register_pool_##body{"pool/" #body, over_fresh<pool_arena, body>};

OVER_POOL(pool_list_and_map)
OVER_POOL(pool_unordered_map)
OVER_POOL(pool_vectors_within_a_block)
OVER_POOL(pool_refuses_out_of_range)

// ---- the owning types ------------------------------------------------------

static_assert(std::is_base_of_v<std::pmr::memory_resource, vais::resource>);

template <class Owner>
constexpr bool move_only = !std::is_copy_constructible_v<Owner> &&
                           !std::is_copy_assignable_v<Owner> &&
                           std::is_nothrow_move_constructible_v<Owner> &&
                           std::is_nothrow_move_assignable_v<Owner>;
static_assert(move_only<vais::bump> && move_only<vais::pool> && move_only<vais::free_list> &&
              move_only<vais::stack>);
// The one-argument constructors are explicit.
static_assert(!std::is_convertible_v<std::int64_t, vais::bump> &&
              !std::is_convertible_v<std::int64_t, vais::free_list> &&
              !std::is_convertible_v<std::int64_t, vais::stack>);

namespace {

// A list of 100 ints over `r` (fits every allocator, the pool included).
void use(vais::resource &r) {
    std::pmr::list<int> l{&r};
    for (int i = 0; i < 100; ++i) l.push_back(i);
    CHECK_EQ(first_mismatch(l, [](int i) { return i; }), -1L);
}

template <class Owner, class... Args>
void moves(Args... args) {
    Owner a(args...);
    auto *const handle = a.handle();
    const VaisAllocator view = a.allocator();
    CHECK(handle != nullptr);
    CHECK(same(a.resource().allocator(), view));

    Owner b(std::move(a));
    CHECK(b.handle() == handle);
    CHECK(same(b.allocator(), view));
    CHECK(same(b.resource().allocator(), view));
    CHECK(a.handle() == nullptr);
    CHECK(a.allocator().ctx == nullptr && a.allocator().vtable == nullptr);
    use(b.resource());
    // The moved-from owner's resource refuses, without touching b's.
    CHECK_THROWS(a.resource().allocate(8), std::bad_alloc);

    Owner c(args...);  // its own handle, freed by the assignment
    c = std::move(b);
    CHECK(c.handle() == handle);
    CHECK(same(c.resource().allocator(), view));
    CHECK(b.handle() == nullptr);
    use(c.resource());

    Owner &alias = c;
    c = std::move(alias);  // self-move keeps the handle
    CHECK(c.handle() == handle);
    use(c.resource());

    a = std::move(c);  // a moved-from owner takes a handle again
    CHECK(a.handle() == handle);
    CHECK(same(a.resource().allocator(), view));
    use(a.resource());
    // a, b and c destruct: the handle is freed once (Valgrind and ASan
    // would see a leak or a double free).
}

}  // namespace

TEST(bump_moves) { moves<vais::bump>(std::int64_t{1} << 16); }
TEST(pool_moves) { moves<vais::pool>(std::int64_t{64}, std::int64_t{256}); }
TEST(free_list_moves) { moves<vais::free_list>(std::int64_t{1} << 16); }
TEST(stack_moves) { moves<vais::stack>(std::int64_t{1} << 16); }

TEST(handles_are_the_families_own) {
    vais::bump b(4096);
    vais::pool p(64, 16);
    vais::free_list f(4096);
    vais::stack s(4096);
    CHECK_EQ(bump_capacity(b.handle()), 4096);
    CHECK_EQ(pool_block_size(p.handle()), 64);
    CHECK_EQ(freelist_remaining(f.handle()), 4096);
    CHECK_EQ(stack_remaining(s.handle()), 4096);
    CHECK(same(b.allocator(), bump_as_allocator(b.handle())));
    CHECK(same(p.allocator(), pool_as_allocator(p.handle())));
    CHECK(same(f.allocator(), freelist_as_allocator(f.handle())));
    CHECK(same(s.allocator(), stack_as_allocator(s.handle())));
    CHECK_EQ(allocator_caps(b.allocator()) & VAIS_ALLOC_CAP_FREE_LAST, VAIS_ALLOC_CAP_FREE_LAST);
    CHECK_EQ(allocator_caps(p.allocator()) & VAIS_ALLOC_CAP_ANY_SIZE, 0);
}

TEST(creation_failures_throw) {
    CHECK_THROWS(vais::bump(-1), std::invalid_argument);
    CHECK_THROWS(vais::stack(-1), std::invalid_argument);
    CHECK_THROWS(vais::pool(0, 16), std::invalid_argument);
    CHECK_THROWS(vais::pool(64, 0), std::invalid_argument);
    CHECK_THROWS(vais::free_list(16), std::invalid_argument);
    CHECK_THROWS(vais::free_list(std::int64_t{1} << 41), std::invalid_argument);
    CHECK_THROWS(vais::bump(std::int64_t{1} << 62), std::bad_alloc);
    CHECK_THROWS(vais::stack(std::int64_t{1} << 62), std::bad_alloc);
    try {
        vais::pool bad(64, -3);
        CHECK(false);
    } catch (const std::invalid_argument &e) {
        const std::string what = e.what();
        CHECK(what.find("pool_new") != std::string::npos);
        CHECK(what.size() > std::string("pool_new: ").size());
    }
    // Capacity 0 is valid: the arena exists, and refuses every request.
    vais::bump empty(0);
    CHECK_THROWS(empty.resource().allocate(0), std::bad_alloc);
}

// ---- equality --------------------------------------------------------------

TEST(is_equal_compares_the_allocator) {
    vais::bump a(4096), other(4096);
    vais::resource &r = a.resource();
    vais::resource same_allocator{a.allocator()};
    CHECK(r.is_equal(r));
    CHECK(r == same_allocator);
    CHECK(same_allocator.is_equal(r));
    CHECK(r != other.resource());
    CHECK(!other.resource().is_equal(r));
    CHECK(r != *std::pmr::new_delete_resource());
    CHECK(!std::pmr::new_delete_resource()->is_equal(r));
    CHECK(vais::global_resource() == vais::resource{global_as_allocator()});
    CHECK(vais::global_resource() != r);
    CHECK(&vais::global_resource() == &vais::global_resource());
    // Copies of a resource view the same allocator.
    vais::resource copy = r;
    CHECK(copy == r);
}

// What is_equal buys: a container moved between equal resources keeps its
// buffer; between unequal ones it must copy.
TEST(equal_resources_share_blocks) {
    vais::free_list heap(1 << 16), elsewhere(1 << 16);
    vais::resource alias{heap.allocator()};
    std::pmr::vector<int> v{&heap.resource()};
    for (int i = 0; i < 100; ++i) v.push_back(i);
    const int *buffer = v.data();

    std::pmr::vector<int> w{&alias};
    w = std::move(v);
    CHECK(w.data() == buffer);
    std::pmr::vector<int> x{&elsewhere.resource()};
    x = std::move(w);
    CHECK(x.data() != buffer);
    CHECK_EQ(first_mismatch(x, [](int i) { return i; }), -1L);
    CHECK_GT(freelist_total_allocated(elsewhere.handle()), 0);
}

// API.md: `std::pmr::vector<int> v{arena.resource()}` just works.
TEST(containers_take_the_resource_itself) {
    vais::stack arena(1 << 16);
    {
        std::pmr::vector<int> v{arena.resource()};
        std::pmr::string s{arena.resource()};
        std::pmr::map<int, int> m{arena.resource()};
        std::pmr::vector<std::pmr::string> vs{arena.resource()};
        std::pmr::polymorphic_allocator<int> alloc = arena.resource();
        CHECK(v.get_allocator().resource() == &arena.resource());
        CHECK(s.get_allocator().resource() == &arena.resource());
        CHECK(m.get_allocator().resource() == &arena.resource());
        CHECK(vs.get_allocator().resource() == &arena.resource());
        CHECK(alloc.resource() == &arena.resource());
        v.assign(1'000, 5);
        vs.emplace_back(text(1).c_str());
        CHECK_LT(stack_remaining(arena.handle()), 1 << 16);
    }
    CHECK_EQ(stack_remaining(arena.handle()), 1 << 16);
}

// ---- exhaustion ------------------------------------------------------------

namespace {

// 1000 ints do not fit 256 bytes: the push that needs more throws, the
// vector keeps what it had, and the last error says EXHAUSTED.
template <class Owner>
void too_small(Owner &arena) {
    {
        std::pmr::vector<int> v{&arena.resource()};
        vais_alloc_clear_error();
        bool threw = false;
        try {
            for (int i = 0; i < 1'000; ++i) v.push_back(i);
        } catch (const std::bad_alloc &) {
            threw = true;
        }
        CHECK(threw);
        CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_EXHAUSTED);
        CHECK_GT(v.size(), std::size_t{0});
        CHECK_LT(v.size(), std::size_t{1'000});
        CHECK_EQ(first_mismatch(v, [](int i) { return i; }), -1L);
    }
    CHECK_THROWS(arena.resource().allocate(257), std::bad_alloc);
}

}  // namespace

TEST(bump_exhaustion_throws) {
    vais::bump arena(256);
    too_small(arena);
    CHECK_EQ(bump_reset(arena.handle()), 0);
    CHECK_EQ(bump_remaining(arena.handle()), 256);
}

TEST(free_list_exhaustion_throws) {
    vais::free_list arena(256);
    too_small(arena);
    CHECK_EQ(freelist_total_allocated(arena.handle()), 0);
}

TEST(stack_exhaustion_throws) {
    vais::stack arena(256);
    too_small(arena);
    CHECK_EQ(stack_remaining(arena.handle()), 256);
}

TEST(pool_exhaustion_throws) {
    vais::pool arena(64, 4);
    {
        std::pmr::list<int> l{&arena.resource()};
        for (int i = 0; i < 4; ++i) l.push_back(i);
        vais_alloc_clear_error();
        CHECK_THROWS(l.push_back(4), std::bad_alloc);
        CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_EXHAUSTED);
        CHECK_EQ(l.size(), std::size_t{4});
        CHECK_EQ(pool_num_free_blocks(arena.handle()), 0);
    }
    CHECK_EQ(pool_num_allocated(arena.handle()), 0);
}

// ---- runner ----------------------------------------------------------------

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : nullptr;
    int passed = 0, failed = 0;
    for (const test_case &test : registry()) {
        if (filter != nullptr && test.name.find(filter) == std::string::npos) continue;
        current_failed = false;
        try {
            test.run();
        } catch (const std::exception &e) {
            std::cerr << "  " << test.name << ": uncaught exception: " << e.what() << "\n";
            current_failed = true;
        }
        std::cerr.flush();
        std::cout << (current_failed ? "FAIL " : "ok   ") << test.name << std::endl;
        (current_failed ? failed : passed) += 1;
    }
    std::cout << "cpp: " << passed << " passed, " << failed << " failed" << std::endl;
    return failed == 0 && passed > 0 ? 0 : 1;
}
