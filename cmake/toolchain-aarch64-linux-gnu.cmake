# Cross build for 64-bit ARM Linux with Debian's cross compiler (gcc-aarch64-linux-gnu)
# and multiarch :arm64 -dev packages (scripts/setup installs them):
#   cmake -S . -B build/cross-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake \
#         -DCMAKE_BUILD_TYPE=Release -DLP_COMPONENTS=agent
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# The libraries and headers are the host's multiarch ones (/usr/lib/aarch64-linux-gnu,
# /usr/include/aarch64-linux-gnu); pkg-config must read the arm64 .pc files only.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
