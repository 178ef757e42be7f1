// libvais_alloc from C++: a std::pmr container whose memory comes from a
// free list, and a scratch arena for a temporary vector. Built by the
// install test through pkg-config (see Makefile, check-install).
#include <cstdio>
#include <string>
#include <vector>

#include <vais_alloc.hpp>

int main() {
    vais::free_list heap(1 << 20);
    std::pmr::vector<std::pmr::string> names{heap.resource()};
    names.emplace_back("every string's bytes come from the free list too");
    names.emplace_back("and the vector's own array");

    vais::bump scratch(64 * 1024);
    std::pmr::vector<int> squares{scratch.resource()};
    for (int i = 0; i < 1000; i++)
        squares.push_back(i * i);

    std::printf("%zu names, %zu squares, last %d\n", names.size(), squares.size(), squares.back());
    return names.size() == 2 && squares.back() == 999 * 999 ? 0 : 1;
}
