#include "core/http/listener.h"

#include <fstream>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "core/http/detail/listener_impl.h"

namespace omni::core::http {

namespace {

std::string openssl_error_text() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

// Counts the connection against max_connections for as long as it lives (moved to the upgrade
// taker for upgraded connections).
struct connection_slot {
  explicit connection_slot(std::shared_ptr<listener::impl> o) : owner(std::move(o)) {}
  ~connection_slot();
  std::shared_ptr<listener::impl> owner;
};

}  // namespace

connection_slot::~connection_slot() {
  owner->stats.active_connections.fetch_sub(1, std::memory_order_relaxed);
}

// ---- listener::impl --------------------------------------------------------------------------

void listener::impl::do_accept() {
  auto done = beast::bind_front_handler(&impl::on_accept, shared_from_this());
  if (connection_contexts.empty()) {
    acceptor.async_accept(asio::make_strand(ioc), std::move(done));
  } else {
    acceptor.async_accept(std::move(done));
  }
}

void listener::impl::reject_connection(tcp::socket& socket) {
  if (!cfg.tls) {
    // Best effort, never blocks: most clients see a 503 instead of a bare close.
    static constexpr std::string_view busy =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Content-Length: 32\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        "{\"error\":\"too many connections\"}";
    error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(asio::buffer(busy.data(), busy.size()), ignored);
  }
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

void listener::impl::on_accept(error_code ec, tcp::socket accepted) {
  if (stopping.load() || !acceptor.is_open()) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    bump(stats.accept_errors);
    // Out of descriptors or buffers: back off instead of spinning on the error.
    stop_timer.expires_after(std::chrono::milliseconds(50));
    stop_timer.async_wait([self = shared_from_this()](error_code tec) {
      if (!tec && !self->stopping.load()) self->do_accept();
    });
    return;
  }
  if (stats.active_connections.load(std::memory_order_relaxed) >= cfg.max_connections) {
    bump(stats.connections_rejected_limit);
    reject_connection(accepted);
    return do_accept();
  }
  error_code mec;
  tcp::socket socket = connection_contexts.empty()
                           ? std::move(accepted)
                           : to_connection_context(std::move(accepted), mec);
  if (mec) {
    bump(stats.accept_errors);
    error_code ignored;
    socket.close(ignored);
    return do_accept();
  }
  bump(stats.connections_accepted);
  bump(stats.active_connections);
  auto slot = std::make_shared<connection_slot>(shared_from_this());
  error_code rec;
  tcp::endpoint remote = socket.remote_endpoint(rec);
  socket.set_option(tcp::no_delay(true), rec);
  const std::uint64_t id = ++next_connection_id;
  std::shared_ptr<connection_base> conn =
      detail::start_connection(shared_from_this(), id, remote, std::move(socket), std::move(slot));
  {
    std::lock_guard lock(mu);
    connections.emplace(id, conn);
  }
  do_accept();
}

std::vector<std::shared_ptr<connection_base>> listener::impl::snapshot() {
  std::vector<std::weak_ptr<connection_base>> weak;
  {
    std::lock_guard lock(mu);
    weak.reserve(connections.size());
    for (auto& [_, w] : connections) weak.push_back(w);
  }
  std::vector<std::shared_ptr<connection_base>> out;
  for (auto& w : weak) {
    if (auto c = w.lock()) out.push_back(std::move(c));
  }
  return out;
}

void listener::impl::begin_stop() {
  asio::dispatch(acceptor.get_executor(), [self = shared_from_this()] {
    error_code ignored;
    self->acceptor.close(ignored);
    {
      std::lock_guard lock(self->mu);
      self->accepting = false;
    }
    for (auto& c : self->snapshot()) c->graceful_stop();
    self->stop_timer.cancel();
    self->stop_timer.expires_after(self->cfg.shutdown_timeout);
    self->stop_timer.async_wait([self](error_code ec) {
      if (!ec) self->force_close_all();
    });
    self->check_stopped();
  });
}

void listener::impl::force_close_all() {
  for (auto& c : snapshot()) c->force_close();
}

void listener::impl::check_stopped() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mu);
    if (stopped || !stopping.load() || accepting || !connections.empty()) return;
    stopped = true;
    callbacks.swap(stopped_callbacks);
  }
  cv.notify_all();
  // Cancel the force-close deadline; nothing is left to close.
  asio::post(acceptor.get_executor(), [self = shared_from_this()] { self->stop_timer.cancel(); });
  for (auto& cb : callbacks) asio::post(ioc, std::move(cb));
}

// ---- listener ------------------------------------------------------------------------------

listener::listener(asio::io_context& ioc, settings s,
                   std::vector<asio::io_context*> connection_contexts)
    : impl_(std::make_shared<impl>(ioc, std::move(s), std::move(connection_contexts))) {}

listener::~listener() {
  stop();
  impl_->force_close_all();
}

bool listener::add(method m, std::string path, handler h) {
  if (!h) return false;
  impl_->edit_routes([&](route_table& t) { t.exact[std::move(path)].by_method[m] = std::move(h); });
  return true;
}

bool listener::add_prefix(method m, std::string prefix, handler h) {
  if (!h) return false;
  impl_->edit_routes([&](route_table& t) {
    auto& p = t.prefixes;
    auto it = std::find_if(p.begin(), p.end(), [&](const auto& e) { return e.first == prefix; });
    if (it == p.end()) it = p.insert(p.end(), {std::move(prefix), route{}});
    it->second.by_method[m] = std::move(h);
  });
  return true;
}

bool listener::add_upgrade(std::string path, upgrade_handler h) {
  if (!h) return false;
  impl_->edit_routes([&](route_table& t) { t.upgrades[std::move(path)] = std::move(h); });
  return true;
}

std::size_t listener::remove(const std::string& path) {
  std::size_t removed = 0;
  impl_->edit_routes([&](route_table& t) {
    removed += t.exact.erase(path) + t.upgrades.erase(path);
    removed += std::erase_if(t.prefixes, [&](const auto& e) { return e.first == path; });
  });
  return removed;
}

std::vector<std::string> listener::paths() const {
  auto t = impl_->routes();
  std::vector<std::string> out;
  for (const auto& [path, r] : t->exact) out.push_back(path);
  for (const auto& [prefix, r] : t->prefixes) out.push_back(prefix);
  for (const auto& [path, h] : t->upgrades) out.push_back(path);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<listen_error> listener::start() {
  auto& m = *impl_;
  if (m.started.exchange(true)) {
    return listen_error{std::make_error_code(std::errc::operation_in_progress),
                        "listener already started"};
  }
  const std::string where = m.cfg.address + ":" + std::to_string(m.cfg.port);
  auto fail = [&](error_code ec, const std::string& what) {
    return listen_error{std::error_code(ec.value(), std::system_category()),
                        "" + what + ": " + ec.message()};
  };

  if (m.cfg.tls) {
    const auto& t = *m.cfg.tls;
    for (const auto* file : {&t.certificate_chain_file, &t.private_key_file}) {
      if (!std::ifstream(*file)) {
        return listen_error{std::make_error_code(std::errc::no_such_file_or_directory),
                            "cannot read TLS file '" + *file + "'"};
      }
    }
    try {
      m.tls.emplace(asio::ssl::context::tls_server);
    } catch (const std::exception& e) {
      return listen_error{std::make_error_code(std::errc::not_supported),
                          std::string("TLS context: ") + e.what()};
    }
    m.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::no_compression |
                       asio::ssl::context::single_dh_use);
    error_code ec;
    m.tls->use_certificate_chain_file(t.certificate_chain_file, ec);
    if (ec) {
      m.tls.reset();
      return listen_error{std::make_error_code(std::errc::invalid_argument),
                          "TLS certificate '" + t.certificate_chain_file + "': " + ec.message()};
    }
    m.tls->use_private_key_file(t.private_key_file, asio::ssl::context::pem, ec);
    if (ec) {
      m.tls.reset();
      return listen_error{std::make_error_code(std::errc::invalid_argument),
                          "TLS private key '" + t.private_key_file + "': " + ec.message()};
    }
    if (SSL_CTX_check_private_key(m.tls->native_handle()) != 1) {
      std::string detail = openssl_error_text();
      m.tls.reset();
      return listen_error{
          std::make_error_code(std::errc::invalid_argument),
          "TLS private key '" + t.private_key_file + "' does not match certificate: " + detail};
    }
  }

  error_code ec;
  tcp::resolver resolver(m.ioc);
  auto results = resolver.resolve(m.cfg.address, std::to_string(m.cfg.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) return fail(ec, "resolve " + where);
  const tcp::endpoint ep = results.begin()->endpoint();

  auto& a = m.acceptor;
  if (a.open(ep.protocol(), ec); ec) return fail(ec, "open " + where);
  if (a.set_option(asio::socket_base::reuse_address(true), ec); ec) {
    a.close(ec);
    return fail(ec, "setsockopt " + where);
  }
  if (a.bind(ep, ec); ec) {
    error_code ignored;
    a.close(ignored);
    return fail(ec, "bind " + where);
  }
  if (a.listen(m.cfg.backlog, ec); ec) {
    error_code ignored;
    a.close(ignored);
    return fail(ec, "listen " + where);
  }
  m.bound = a.local_endpoint(ec);
  {
    std::lock_guard lock(m.mu);
    m.accepting = true;
  }
  asio::dispatch(a.get_executor(), [self = impl_] { self->do_accept(); });
  return std::nullopt;
}

void listener::stop() {
  if (impl_->stopping.exchange(true)) return;
  bool was_accepting;
  {
    std::lock_guard lock(impl_->mu);
    was_accepting = impl_->accepting;
  }
  if (was_accepting) {
    impl_->begin_stop();
  } else {
    impl_->check_stopped();
  }
}

bool listener::wait_stopped(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->stopped; });
}

void listener::on_stopped(std::function<void()> done) {
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->stopped) {
      impl_->stopped_callbacks.push_back(std::move(done));
      return;
    }
  }
  asio::post(impl_->ioc, std::move(done));
}

tcp::endpoint listener::local_endpoint() const { return impl_->bound; }

std::uint16_t listener::port() const { return impl_->bound.port(); }

const listener_stats& listener::stats() const { return impl_->stats; }

const settings& listener::config() const { return impl_->cfg; }

}  // namespace omni::core::http
