#include "routing/sim/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace omni::routing::sim {
namespace {

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Ratios with 6 decimals, milliseconds with 1: fixed formats keep the output byte-identical.
std::string ratio(double v) { return fmt("%.6f", v); }
std::string millis(double v) { return fmt("%.1f", v); }

std::string stats_json(const contact_stats& s) {
  std::string o;
  o += "\"offered\": " + std::to_string(s.offered);
  o += ", \"answered\": " + std::to_string(s.answered);
  o += ", \"abandoned\": " + std::to_string(s.abandoned);
  o += ", \"expired\": " + std::to_string(s.expired);
  o += ", \"unanswered\": " + std::to_string(s.unanswered);
  o += ", \"answered_within_sla\": " + std::to_string(s.within_sla);
  o += ", \"service_level\": " + ratio(s.service_level());
  o += ", \"probability_of_waiting\": " + ratio(s.probability_of_waiting());
  o += ", \"abandonment_rate\": " + ratio(s.abandonment_rate());
  o += ", \"average_speed_of_answer_ms\": " + millis(s.average_speed_of_answer_ms());
  o += ", \"wait_p50_ms\": " + std::to_string(s.wait_p50_ms);
  o += ", \"wait_p90_ms\": " + std::to_string(s.wait_p90_ms);
  o += ", \"wait_p99_ms\": " + std::to_string(s.wait_p99_ms);
  return o;
}

std::string group_json(const group_report& g) {
  return "{\"name\": " + json_string(g.name) + ", \"agents\": " + std::to_string(g.agents) +
         ", \"logged_in_hours\": " + fmt("%.4f", g.logged_in_ms / 3.6e6) +
         ", \"busy_hours\": " + fmt("%.4f", g.busy_ms / 3.6e6) +
         ", \"occupancy\": " + ratio(g.occupancy()) + "}";
}

std::string seconds_text(double ms) { return fmt("%.1fs", ms / 1000.0); }
std::string percent_text(double r) { return fmt("%.1f%%", r * 100.0); }

std::string pad(std::string s, std::size_t width, bool left = false) {
  // Width in display columns: count UTF-8 lead bytes only.
  std::size_t cols = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++cols;
  if (cols >= width) return s;
  std::string fill(width - cols, ' ');
  return left ? s + fill : fill + s;
}

struct metric {
  const char* name;
  std::string (*value)(const contact_stats&, const queue_report*);
};

const metric metrics[] = {
    {"offered",
     [](const contact_stats& s, const queue_report*) { return std::to_string(s.offered); }},
    {"answered",
     [](const contact_stats& s, const queue_report*) { return std::to_string(s.answered); }},
    {"abandoned",
     [](const contact_stats& s, const queue_report*) { return std::to_string(s.abandoned); }},
    {"service level",
     [](const contact_stats& s, const queue_report* q) {
       std::string v = percent_text(s.service_level());
       if (q) v += " (" + seconds_text(static_cast<double>(q->sla_threshold)) + ")";
       return v;
     }},
    {"P(wait)", [](const contact_stats& s,
                   const queue_report*) { return percent_text(s.probability_of_waiting()); }},
    {"ASA", [](const contact_stats& s,
               const queue_report*) { return seconds_text(s.average_speed_of_answer_ms()); }},
    {"wait p50/p90/p99",
     [](const contact_stats& s, const queue_report*) {
       return seconds_text(static_cast<double>(s.wait_p50_ms)) + "/" +
              seconds_text(static_cast<double>(s.wait_p90_ms)) + "/" +
              seconds_text(static_cast<double>(s.wait_p99_ms));
     }},
};

}  // namespace

double contact_stats::service_level() const {
  const auto finished = answered + abandoned + expired;
  return finished ? static_cast<double>(within_sla) / static_cast<double>(finished) : 1.0;
}
double contact_stats::average_speed_of_answer_ms() const {
  return answered ? static_cast<double>(wait_sum_ms) / static_cast<double>(answered) : 0.0;
}
double contact_stats::probability_of_waiting() const {
  return answered ? static_cast<double>(waited) / static_cast<double>(answered) : 0.0;
}
double contact_stats::abandonment_rate() const {
  const auto finished = answered + abandoned + expired;
  return finished ? static_cast<double>(abandoned) / static_cast<double>(finished) : 0.0;
}

void contact_stats::merge(const contact_stats& o) {
  offered += o.offered;
  answered += o.answered;
  abandoned += o.abandoned;
  expired += o.expired;
  unanswered += o.unanswered;
  waited += o.waited;
  within_sla += o.within_sla;
  wait_sum_ms += o.wait_sum_ms;
  waits.insert(waits.end(), o.waits.begin(), o.waits.end());
}

void contact_stats::finalize() {
  if (!waits.empty()) {
    std::sort(waits.begin(), waits.end());
    auto rank = [&](double p) {
      auto k = static_cast<std::size_t>(std::ceil(p * static_cast<double>(waits.size())));
      return waits[std::clamp<std::size_t>(k, 1, waits.size()) - 1];
    };
    wait_p50_ms = rank(0.50);
    wait_p90_ms = rank(0.90);
    wait_p99_ms = rank(0.99);
  }
  waits.clear();
  waits.shrink_to_fit();
}

std::string clock_label(const report& r, engine::timestamp t) {
  const std::int64_t minutes_total = (t + r.day_offset) / 60'000;
  const std::int64_t day = minutes_total / (24 * 60);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d", static_cast<int>(minutes_total / 60 % 24),
                static_cast<int>(minutes_total % 60));
  std::string out = buf;
  if (day > 0) out = "d" + std::to_string(day + 1) + " " + out;
  return out;
}

std::string to_json(const report& r) {
  std::string o = "{\n";
  o += "  \"schema\": \"omni.sim_report.v1\",\n";
  o += "  \"config\": " + json_string(r.config_name) + ",\n";
  o += "  \"scenario\": " + json_string(r.scenario_name) + ",\n";
  o += "  \"seed\": " + std::to_string(r.seed) + ",\n";
  o += "  \"duration_ms\": " + std::to_string(r.duration) + ",\n";
  o += "  \"warmup_ms\": " + std::to_string(r.warmup) + ",\n";
  o += "  \"interval_ms\": " + std::to_string(r.interval) + ",\n";
  o += "  \"ended_at_ms\": " + std::to_string(r.ended_at) + ",\n";
  o += "  \"contacts_simulated\": " + std::to_string(r.contacts_simulated) + ",\n";
  o += "  \"events\": " + std::to_string(r.events) + ",\n";
  o += "  \"decisions\": " + std::to_string(r.decisions) + ",\n";
  o += "  \"overall\": {" + stats_json(r.overall) + "},\n";
  o += "  \"queues\": [";
  for (std::size_t i = 0; i < r.queues.size(); ++i) {
    const auto& q = r.queues[i];
    o += i ? ",\n    " : "\n    ";
    o += "{\"name\": " + json_string(q.name) +
         ", \"sla_threshold_ms\": " + std::to_string(q.sla_threshold) +
         ", \"sla_target\": " + ratio(q.sla_target) + ", " + stats_json(q.stats) + "}";
  }
  o += r.queues.empty() ? "],\n" : "\n  ],\n";
  o += "  \"agent_groups\": [";
  for (std::size_t i = 0; i < r.groups.size(); ++i)
    o += (i ? ",\n    " : "\n    ") + group_json(r.groups[i]);
  o += r.groups.empty() ? "],\n" : "\n  ],\n";
  o += "  \"intervals\": [";
  for (std::size_t i = 0; i < r.intervals.size(); ++i) {
    const auto& iv = r.intervals[i];
    o += i ? ",\n    " : "\n    ";
    o += "{\"start\": " + json_string(clock_label(r, iv.start)) +
         ", \"start_ms\": " + std::to_string(iv.start) +
         ", \"warmup\": " + (iv.warmup ? "true" : "false") +
         ", \"waiting_avg\": " + fmt("%.3f", iv.waiting_avg) +
         ", \"waiting_max\": " + std::to_string(iv.waiting_max) + ",\n     \"overall\": {" +
         stats_json(iv.overall) + "},\n     \"queues\": {";
    for (std::size_t q = 0; q < iv.queues.size(); ++q)
      o += (q ? ", " : "") + json_string(r.queues[q].name) + ": {" + stats_json(iv.queues[q]) + "}";
    o += "},\n     \"occupancy\": {";
    for (std::size_t g = 0; g < iv.groups.size(); ++g)
      o +=
          (g ? ", " : "") + json_string(iv.groups[g].name) + ": " + ratio(iv.groups[g].occupancy());
    o += "}}";
  }
  o += r.intervals.empty() ? "]\n" : "\n  ]\n";
  o += "}\n";
  return o;
}

std::string to_json(const std::vector<report>& runs) {
  if (runs.size() == 1) return to_json(runs.front());
  std::string o = "{\"schema\": \"omni.sim_comparison.v1\", \"runs\": [\n";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (i) o += ",\n";
    std::string one = to_json(runs[i]);
    one.pop_back();  // trailing newline
    o += one;
  }
  return o + "\n]}\n";
}

std::string to_table(const std::vector<report>& runs) {
  if (runs.empty()) return {};
  const report& first = runs.front();
  std::string o;
  constexpr std::size_t name_w = 16, metric_w = 18, col_w = 22;
  // Header: one column per run.
  auto header = [&](const char* what) {
    o += pad(what, name_w + metric_w, true);
    for (const auto& r : runs) {
      std::string label = r.config_name;
      if (auto slash = label.rfind('/'); slash != std::string::npos)
        label = label.substr(slash + 1);
      if (label.size() > col_w - 1) label = "..." + label.substr(label.size() - (col_w - 4));
      o += pad(label, col_w);
    }
    o += "\n";
  };
  header("queue / metric");
  auto block = [&](const std::string& name, auto get_stats, auto get_queue) {
    bool first_row = true;
    for (const auto& m : metrics) {
      o += pad(first_row ? name : "", name_w, true) + pad(m.name, metric_w, true);
      for (const auto& r : runs) o += pad(m.value(get_stats(r), get_queue(r)), col_w);
      o += "\n";
      first_row = false;
    }
  };
  for (std::size_t q = 0; q < first.queues.size(); ++q) {
    const std::string& name = first.queues[q].name;
    auto find = [&](const report& r) -> const queue_report* {
      for (const auto& qr : r.queues)
        if (qr.name == name) return &qr;
      return nullptr;
    };
    if (first.queues[q].stats.offered == 0) {
      bool any = false;
      for (const auto& r : runs)
        if (auto* qr = find(r); qr && qr->stats.offered) any = true;
      if (!any) continue;  // queues nobody offered anything to stay in the JSON only
    }
    static const contact_stats empty;
    block(
        name,
        [&](const report& r) -> const contact_stats& { return find(r) ? find(r)->stats : empty; },
        find);
  }
  block(
      "overall", [](const report& r) -> const contact_stats& { return r.overall; },
      [](const report&) -> const queue_report* { return nullptr; });
  o += "\n";
  header("agent group / occupancy");
  for (const auto& g : first.groups) {
    o += pad(g.name, name_w, true) + pad(std::to_string(g.agents) + " agents", metric_w, true);
    for (const auto& r : runs) {
      std::string v = "-";
      for (const auto& rg : r.groups)
        if (rg.name == g.name) v = percent_text(rg.occupancy());
      o += pad(v, col_w);
    }
    o += "\n";
  }
  if (runs.size() == 1) {
    o += "\n" + pad("interval", 10, true) + pad("offered", 9) + pad("answered", 9) +
         pad("abandoned", 10) + pad("SL", 8) + pad("ASA", 9) + pad("waiting", 9);
    for (const auto& g : first.groups) o += pad(g.name.substr(0, 11), 12);
    o += "\n";
    for (const auto& iv : first.intervals) {
      o += pad(clock_label(first, iv.start) + (iv.warmup ? "*" : ""), 10, true) +
           pad(std::to_string(iv.overall.offered), 9) +
           pad(std::to_string(iv.overall.answered), 9) +
           pad(std::to_string(iv.overall.abandoned), 10) +
           pad(percent_text(iv.overall.service_level()), 8) +
           pad(seconds_text(iv.overall.average_speed_of_answer_ms()), 9) +
           pad(fmt("%.1f", iv.waiting_avg), 9);
      for (const auto& g : iv.groups) o += pad(percent_text(g.occupancy()), 12);
      o += "\n";
    }
    if (first.warmup > 0) o += "(* warm-up: contacts arriving then are not counted)\n";
  }
  return o;
}

std::string to_svg(const std::vector<report>& runs) {
  constexpr double width = 960, height = 480, left = 70, right = 70, top = 50, bottom = 60;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  static const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};
  std::string o;
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"480\" "
       "viewBox=\"0 0 960 480\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o += "<rect width=\"960\" height=\"480\" fill=\"white\"/>\n";
  if (runs.empty() || runs.front().intervals.empty()) return o + "</svg>\n";
  const report& first = runs.front();
  const double span =
      static_cast<double>(first.intervals.size()) * static_cast<double>(first.interval);
  double max_waiting = 1;
  for (const auto& r : runs)
    for (const auto& iv : r.intervals) max_waiting = std::max(max_waiting, iv.waiting_avg);
  // A round upper bound for the right axis.
  double step = std::pow(10.0, std::floor(std::log10(max_waiting)));
  double wait_top = std::ceil(max_waiting / step) * step;
  if (wait_top / step < 4) step /= 2;
  auto x_of = [&](double t) { return left + plot_w * t / span; };
  auto y_sl = [&](double sl) { return top + plot_h * (1.0 - sl); };
  auto y_wait = [&](double w) { return top + plot_h * (1.0 - w / wait_top); };
  auto num = [](double v) { return fmt("%.1f", v); };

  o += "<text x=\"" + num(width / 2) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" +
       xml_escape("Service level and waiting contacts — " + first.scenario_name) + "</text>\n";
  // Grid and the left axis (service level).
  for (int p = 0; p <= 100; p += 20) {
    const double y = y_sl(p / 100.0);
    o += "<line x1=\"" + num(left) + "\" y1=\"" + num(y) + "\" x2=\"" + num(left + plot_w) +
         "\" y2=\"" + num(y) + "\" stroke=\"#ddd\"/>\n";
    o += "<text x=\"" + num(left - 6) + "\" y=\"" + num(y + 4) + "\" text-anchor=\"end\">" +
         std::to_string(p) + "%</text>\n";
  }
  for (double w = 0; w <= wait_top + 1e-9; w += step)
    o += "<text x=\"" + num(left + plot_w + 6) + "\" y=\"" + num(y_wait(w) + 4) + "\">" +
         fmt(step < 1 ? "%.1f" : "%.0f", w) + "</text>\n";
  o += "<text transform=\"translate(18 " + num(top + plot_h / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">service level</text>\n";
  o += "<text transform=\"translate(" + num(width - 16) + " " + num(top + plot_h / 2) +
       ") rotate(90)\" text-anchor=\"middle\">contacts waiting (average)</text>\n";
  // Time axis: a label every hour-ish (at most ~12 labels).
  const std::size_t n = first.intervals.size();
  const std::size_t every = std::max<std::size_t>(1, (n + 11) / 12);
  for (std::size_t i = 0; i <= n; i += every) {
    const double t = static_cast<double>(i) * static_cast<double>(first.interval);
    const double x = x_of(t);
    o += "<line x1=\"" + num(x) + "\" y1=\"" + num(top + plot_h) + "\" x2=\"" + num(x) +
         "\" y2=\"" + num(top + plot_h + 5) + "\" stroke=\"#333\"/>\n";
    o += "<text x=\"" + num(x) + "\" y=\"" + num(top + plot_h + 18) + "\" text-anchor=\"middle\">" +
         clock_label(first, static_cast<engine::timestamp>(t)) + "</text>\n";
  }
  // Warm-up shading.
  if (first.warmup > 0)
    o += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" +
         num(x_of(static_cast<double>(first.warmup)) - left) + "\" height=\"" + num(plot_h) +
         "\" fill=\"#000\" fill-opacity=\"0.05\"/>\n";
  // SLA target of the first queue with traffic, as a dashed reference.
  for (const auto& q : first.queues)
    if (q.stats.offered) {
      o += "<line x1=\"" + num(left) + "\" y1=\"" + num(y_sl(q.sla_target)) + "\" x2=\"" +
           num(left + plot_w) + "\" y2=\"" + num(y_sl(q.sla_target)) +
           "\" stroke=\"#888\" stroke-dasharray=\"6 4\"/>\n";
      break;
    }
  // Waiting contacts: translucent step bars per run; service level: a line per run (overall),
  // plus thin lines per queue when there is one run and several queues.
  const double bar_w = plot_w / static_cast<double>(n) / static_cast<double>(runs.size());
  std::string legend;
  for (std::size_t k = 0; k < runs.size(); ++k) {
    const report& r = runs[k];
    const std::string color = colors[k % 6];
    for (std::size_t i = 0; i < r.intervals.size() && i < n; ++i) {
      const double x = x_of(static_cast<double>(i) * static_cast<double>(r.interval)) +
                       bar_w * static_cast<double>(k);
      const double y = y_wait(r.intervals[i].waiting_avg);
      o += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(bar_w) +
           "\" height=\"" + num(top + plot_h - y) + "\" fill=\"" + color +
           "\" fill-opacity=\"0.18\"/>\n";
    }
    auto polyline = [&](auto stats_of, const std::string& stroke, double w, const char* dash) {
      std::string pts;
      for (std::size_t i = 0; i < r.intervals.size() && i < n; ++i) {
        const contact_stats& s = stats_of(r.intervals[i]);
        if (r.intervals[i].warmup || s.offered == 0) continue;
        const double x = x_of((static_cast<double>(i) + 0.5) * static_cast<double>(r.interval));
        pts += num(x) + "," + num(y_sl(s.service_level())) + " ";
      }
      if (!pts.empty())
        o += "<polyline fill=\"none\" stroke=\"" + stroke + "\" stroke-width=\"" + num(w) + "\"" +
             (dash ? std::string(" stroke-dasharray=\"") + dash + "\"" : "") + " points=\"" + pts +
             "\"/>\n";
    };
    polyline([](const interval_report& iv) -> const contact_stats& { return iv.overall; }, color,
             2.5, nullptr);
    const double ly = top + 14 + 16.0 * static_cast<double>(k);
    legend += "<line x1=\"" + num(left + 10) + "\" y1=\"" + num(ly - 4) + "\" x2=\"" +
              num(left + 34) + "\" y2=\"" + num(ly - 4) + "\" stroke=\"" + color +
              "\" stroke-width=\"2.5\"/>\n<text x=\"" + num(left + 40) + "\" y=\"" + num(ly) +
              "\">" + xml_escape(r.config_name + ": service level (overall); bars: waiting") +
              "</text>\n";
    if (runs.size() == 1 && r.queues.size() > 1) {
      std::size_t shown = 0;
      for (std::size_t q = 0; q < r.queues.size(); ++q) {
        if (!r.queues[q].stats.offered) continue;
        const std::string qc = colors[(q + 1) % 6];
        polyline([q](const interval_report& iv) -> const contact_stats& { return iv.queues[q]; },
                 qc, 1.2, "3 2");
        const double qy = top + 30 + 16.0 * static_cast<double>(++shown);
        legend += "<line x1=\"" + num(left + 10) + "\" y1=\"" + num(qy - 4) + "\" x2=\"" +
                  num(left + 34) + "\" y2=\"" + num(qy - 4) + "\" stroke=\"" + qc +
                  "\" stroke-dasharray=\"3 2\"/>\n<text x=\"" + num(left + 40) + "\" y=\"" +
                  num(qy) + "\">" + xml_escape("queue " + r.queues[q].name) + "</text>\n";
      }
    }
  }
  o += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(plot_w) +
       "\" height=\"" + num(plot_h) + "\" fill=\"none\" stroke=\"#333\"/>\n";
  o += legend;
  o += "<text x=\"" + num(left + plot_w / 2) + "\" y=\"" + num(height - 14) +
       "\" text-anchor=\"middle\">simulated time of day (interval " +
       std::to_string(first.interval / 60'000) + " min)</text>\n";
  return o + "</svg>\n";
}

}  // namespace omni::routing::sim
