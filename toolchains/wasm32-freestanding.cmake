# Freestanding wasm32 with Debian's clang-14: no libc, no libc++, no WASI imports.
#
#   cmake -S . -B build/wasm32 -DCMAKE_TOOLCHAIN_FILE=toolchains/wasm32-freestanding.cmake
#
# Executables are reactor-style modules (`-Wl,--no-entry`): they export functions and have no
# _start. Note: once binaryen is installed, clang runs `wasm-opt -O<n>` after every link that
# sees an -O flag (sizes change just by installing binaryen); link without -O to control it.
# This file is read again for every try_compile, so it only sets variables.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR wasm32)

set(CMAKE_C_COMPILER clang-14)
set(CMAKE_CXX_COMPILER clang++-14)
set(CMAKE_C_COMPILER_TARGET wasm32)
set(CMAKE_CXX_COMPILER_TARGET wasm32)

# GNU ar writes archives wasm-ld rejects ("archive has no index").
find_program(KITALLOC_LLVM_AR NAMES llvm-ar-14 llvm-ar REQUIRED)
find_program(KITALLOC_LLVM_RANLIB NAMES llvm-ranlib-14 llvm-ranlib REQUIRED)
set(CMAKE_AR "${KITALLOC_LLVM_AR}" CACHE FILEPATH "Archiver" FORCE)
set(CMAKE_RANLIB "${KITALLOC_LLVM_RANLIB}" CACHE FILEPATH "Ranlib" FORCE)

# -mbulk-memory: struct copies and __builtin_memcpy/memset become memory.copy/fill instead of
# calls to a memcpy/memset that does not exist here. Node 20 and wabt support bulk memory.
set(CMAKE_C_FLAGS_INIT "-ffreestanding -mbulk-memory")
set(CMAKE_CXX_FLAGS_INIT "-ffreestanding -fno-exceptions -fno-rtti -mbulk-memory")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -Wl,--no-entry")

# There is no libc to link a test program against.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

include(${CMAKE_CURRENT_LIST_DIR}/wasm-common.cmake)
