/*
 * vais_alloc.hpp: C++17 bindings of libvais_alloc, header-only, over the C
 * ABI of vais_alloc.h.
 *
 *   vais::resource          a std::pmr::memory_resource over any
 *                           VaisAllocator (ours, or one the caller wrote)
 *   vais::bump, vais::pool, move-only owners of a handle: created in the
 *   vais::free_list,        constructor, freed in the destructor, each with
 *   vais::stack             .resource(), .allocator() and .handle()
 *   vais::global_resource() the global allocator as a memory resource
 *
 * So that
 *
 *   vais::bump arena(1 << 20);
 *   std::pmr::vector<int> v{arena.resource()};   // or {&arena.resource()}
 *
 * just works. A resource is a view: it never owns the allocator it speaks
 * to, and every container built over an owner's resource must be gone
 * before that owner is destroyed, moved from or assigned to (a moved-from
 * owner's resource is the empty allocator: allocate throws std::bad_alloc,
 * deallocate is refused with VAIS_ALLOC_E_NULL_HANDLE and changes nothing).
 */

#ifndef VAIS_ALLOC_HPP
#define VAIS_ALLOC_HPP

#include "vais_alloc.h"

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace vais {

// A std::pmr::memory_resource that allocates from a VaisAllocator. It holds
// the 16-byte allocator by value and nothing else; the allocator (a live
// handle's view, or the caller's own context and vtable) must outlive it.
class resource : public std::pmr::memory_resource {
public:
    // A resource over `a`; `{NULL, NULL}` gives one that refuses every
    // allocation.
    explicit resource(VaisAllocator a) noexcept : allocator_(a) {}

    // The allocator this resource speaks to.
    VaisAllocator allocator() const noexcept { return allocator_; }

    // A polymorphic allocator over this resource, so that a container takes
    // the resource itself as well as its address:
    // `std::pmr::vector<int> v{arena.resource()}` is `v{&arena.resource()}`.
    template <class T>
    operator std::pmr::polymorphic_allocator<T>() noexcept {
        return std::pmr::polymorphic_allocator<T>(this);
    }

private:
    // Throws std::bad_alloc when the allocator refuses (exhausted, out of
    // memory, a layout it never serves: vais_alloc_last_error() says which).
    // A zero-size request is served like any other.
    void *do_allocate(std::size_t bytes, std::size_t alignment) override {
        constexpr std::size_t max = static_cast<std::size_t>(INT64_MAX);
        if (bytes > max || alignment > max) throw std::bad_alloc();
        const Allocation block = allocator_alloc(allocator_, layout(bytes, alignment));
        if (block.ptr == 0) throw std::bad_alloc();
        return reinterpret_cast<void *>(static_cast<std::intptr_t>(block.ptr));
    }

    // Gives the block back with the layout it was allocated with. A refusal
    // (a pointer this allocator never handed out) cannot be reported from
    // here: the library records it in vais_alloc_last_error() and changes
    // nothing.
    void do_deallocate(void *p, std::size_t bytes, std::size_t alignment) override {
        allocator_free(allocator_, static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(p)),
                       layout(bytes, alignment));
    }

    // Equal when `other` is a vais::resource over the same context and
    // vtable: then either can free what the other allocated. Without RTTI
    // only a resource is equal to itself.
    bool do_is_equal(const std::pmr::memory_resource &other) const noexcept override {
        if (this == &other) return true;
#if defined(__cpp_rtti) || defined(__GXX_RTTI) || defined(_CPPRTTI)
        const auto *same_kind = dynamic_cast<const resource *>(&other);
        return same_kind != nullptr && same_kind->allocator_.ctx == allocator_.ctx &&
               same_kind->allocator_.vtable == allocator_.vtable;
#else
        return false;
#endif
    }

    // Sizes past INT64_MAX never get here (do_allocate refuses them); on
    // deallocation they cannot occur, as no such block was handed out.
    static Layout layout(std::size_t bytes, std::size_t alignment) noexcept {
        return Layout{static_cast<std::int64_t>(bytes), static_cast<std::int64_t>(alignment)};
    }

    VaisAllocator allocator_;
};

// The global allocator (system malloc, any alignment) as a memory resource,
// one per program. Every resource over global_as_allocator() is equal to it.
inline resource &global_resource() noexcept {
    static resource global{global_as_allocator()};
    return global;
}

namespace detail {

// Throws what a failed `*_new` means: std::bad_alloc when memory ran out,
// std::invalid_argument (naming the function and the cause) otherwise.
[[noreturn]] inline void throw_creation_error(const char *function) {
    const std::int64_t code = vais_alloc_last_error();
    if (code == VAIS_ALLOC_E_OUT_OF_MEMORY) throw std::bad_alloc();
    throw std::invalid_argument(std::string(function) + ": " + vais_alloc_error_message(code));
}

// What an owner needs of its family: the handle's view as an allocator
// and its release. One specialisation per handle type.
template <class Handle>
struct family;

template <>
struct family<BumpAllocator> {
    static VaisAllocator as_allocator(BumpAllocator *h) noexcept { return bump_as_allocator(h); }
    static void release(BumpAllocator *h) noexcept { bump_free(h); }
};

template <>
struct family<PoolAllocator> {
    static VaisAllocator as_allocator(PoolAllocator *h) noexcept { return pool_as_allocator(h); }
    static void release(PoolAllocator *h) noexcept { pool_free(h); }
};

template <>
struct family<FreeListAllocator> {
    static VaisAllocator as_allocator(FreeListAllocator *h) noexcept {
        return freelist_as_allocator(h);
    }
    static void release(FreeListAllocator *h) noexcept { freelist_free(h); }
};

template <>
struct family<StackAllocator> {
    static VaisAllocator as_allocator(StackAllocator *h) noexcept { return stack_as_allocator(h); }
    static void release(StackAllocator *h) noexcept { stack_free(h); }
};

// The shared body of vais::bump, pool, free_list and stack: owns one live
// handle (or none once moved from) and the resource that views it.
template <class Handle>
class owner {
public:
    using handle_type = Handle;

    owner(const owner &) = delete;
    owner &operator=(const owner &) = delete;

    // Takes `other`'s handle; `other` is left holding none.
    owner(owner &&other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)), resource_(view(handle_)) {
        other.resource_ = vais::resource(view(nullptr));
    }

    // Frees this owner's handle, then takes `other`'s; self-assignment
    // changes nothing.
    owner &operator=(owner &&other) noexcept {
        if (this != &other) {
            family<Handle>::release(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
            resource_ = vais::resource(view(handle_));
            other.resource_ = vais::resource(view(nullptr));
        }
        return *this;
    }

    // The memory resource over this allocator, for std::pmr containers.
    vais::resource &resource() noexcept { return resource_; }

    // The allocator view of the handle (`{NULL, NULL}` once moved from).
    VaisAllocator allocator() const noexcept { return resource_.allocator(); }

    // The raw handle, for the family's own C functions (NULL once moved
    // from). It stays owned by this object.
    Handle *handle() const noexcept { return handle_; }

protected:
    // Frees the handle and everything allocated from it (NULL: nothing).
    // Protected, not virtual: a vais::bump (pool, ...) is destroyed as
    // itself, never through a pointer to this base.
    ~owner() { family<Handle>::release(handle_); }

    // Takes a handle just returned by `function`; NULL means it failed.
    owner(Handle *handle, const char *function) : handle_(handle), resource_(view(handle)) {
        if (handle_ == nullptr) throw_creation_error(function);
    }

private:
    // The view of a live handle; none for NULL (without asking the library,
    // which would record NULL_HANDLE as the thread's last error).
    static VaisAllocator view(Handle *handle) noexcept {
        return handle == nullptr ? VaisAllocator{nullptr, nullptr}
                                 : family<Handle>::as_allocator(handle);
    }

    Handle *handle_;
    vais::resource resource_;
};

}  // namespace detail

// A bump arena owning a `capacity`-byte buffer. Freeing the most recent
// block reclaims it; other frees wait for bump_reset(handle()).
class bump : public detail::owner<BumpAllocator> {
public:
    // Throws std::invalid_argument for a negative capacity, std::bad_alloc
    // when memory runs out.
    explicit bump(std::int64_t capacity) : owner(bump_new(capacity), "bump_new") {}
};

// A pool of `num_blocks` blocks of `block_size` bytes (rounded as
// pool_new says). A request larger or more aligned than a block throws
// std::bad_alloc, so it suits node containers (list, map, set).
class pool : public detail::owner<PoolAllocator> {
public:
    // Throws std::invalid_argument for a bad block size or count,
    // std::bad_alloc when memory runs out.
    pool(std::int64_t block_size, std::int64_t num_blocks)
        : owner(pool_new(block_size, num_blocks), "pool_new") {}
};

// A general-purpose free-list heap of `capacity` bytes: any size, any
// alignment, frees in any order.
class free_list : public detail::owner<FreeListAllocator> {
public:
    // Throws std::invalid_argument for a capacity below one minimum block
    // or too large, std::bad_alloc when memory runs out.
    explicit free_list(std::int64_t capacity) : owner(freelist_new(capacity), "freelist_new") {}
};

// A stack allocator owning a `capacity`-byte buffer. Freeing the top block
// pops it; an older block is reclaimed once everything above it is freed.
class stack : public detail::owner<StackAllocator> {
public:
    // Throws std::invalid_argument for a negative capacity, std::bad_alloc
    // when memory runs out.
    explicit stack(std::int64_t capacity) : owner(stack_new(capacity), "stack_new") {}
};

}  // namespace vais

#endif  // VAIS_ALLOC_HPP
