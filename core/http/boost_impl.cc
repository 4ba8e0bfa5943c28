// The one translation unit that compiles Asio's, Asio SSL's and Beast's non-template code
// (separate compilation; see the PUBLIC compile definitions of omni::http in CMakeLists.txt).
// Every target that uses Asio or Beast must link omni::http so the definitions stay consistent.

#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
