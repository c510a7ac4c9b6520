# Settings every wasm toolchain file of ours shares (included by them).
# With CMAKE_SYSTEM_NAME Generic, the plain CMAKE_EXECUTABLE_SUFFIX is reset; these stick.
set(CMAKE_EXECUTABLE_SUFFIX_C .wasm)
set(CMAKE_EXECUTABLE_SUFFIX_CXX .wasm)

# Programs (node, wasm-interp) are the host's; libraries and headers come from the target.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# Packages built for wasm (kitalloc's own install, for one) live wherever they were installed,
# not only in the sysroot: CMAKE_PREFIX_PATH=<prefix> must find them.
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
