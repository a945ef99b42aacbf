// k6-style load test: 50 virtual users browse, add to cart and check out for two minutes.
import http from "k6/http";
import { check, sleep } from "k6";

export const options = { vus: 50, duration: "2m", thresholds: { http_req_duration: ["p(95)<400"] } };

export default function () {
  const home = http.get("https://shop.example.test/");
  check(home, { "home is 200": (r) => r.status === 200 });
  http.post("https://shop.example.test/cart", JSON.stringify({ sku: "SKU-1042", quantity: 1 }),
            { headers: { "Content-Type": "application/json" } });
  const order = http.post("https://shop.example.test/checkout", JSON.stringify({ payment: "test-token" }));
  check(order, { "order accepted": (r) => r.status === 201 });
  sleep(1);
}
