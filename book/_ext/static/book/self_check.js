// Self-checks on the static page (book/_ext/self_study.py makes the markup): a number to type
// in, checked against the answer key within its tolerance, and multiple-choice concept questions
// that explain every option once it is chosen. Nothing leaves the page: no server, no storage.
(() => {
  "use strict";

  const number = (text) => {
    // "54.7", "54.7 %", "−1.2" (a typographic minus), "1,234.5"
    const cleaned = text.replace(/\u2212/g, "-").replace(/,/g, "").replace(/[^0-9eE+\-.]/g, " ").trim();
    const value = parseFloat(cleaned.split(/\s+/)[0]);
    return Number.isFinite(value) ? value : null;
  };

  const verdict = (box, ok, text) => {
    const out = box.querySelector(".self-check-result");
    out.textContent = text;
    out.classList.toggle("correct", ok === true);
    out.classList.toggle("wrong", ok === false);
  };

  const noKey = "The answers are not part of this edition of the book.";

  function numericCheck(box, index) {
    const key = box.querySelector(".answer-key");
    const answer = key ? number(key.textContent) : null;
    const tolerance = number(box.querySelector(".self-check-tolerance")?.textContent || "0") || 0;
    const unit = (box.querySelector(".self-check-unit")?.textContent || "").trim();
    const form = document.createElement("form");
    form.className = "self-check-form";
    const id = `self-check-${index}`;
    form.innerHTML =
      `<label for="${id}">Your answer${unit ? ` (${unit})` : ""}:</label> ` +
      `<input id="${id}" type="text" inputmode="decimal" autocomplete="off" size="10"> ` +
      `<button type="submit">Check</button> <span class="self-check-result" aria-live="polite"></span>`;
    box.appendChild(form);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (answer === null) return verdict(box, null, noKey);
      const given = number(form.querySelector("input").value);
      if (given === null) return verdict(box, false, "Type a number, e.g. 12.5.");
      const ok = Math.abs(given - answer) <= tolerance + 1e-12 * Math.max(1, Math.abs(answer));
      const within = tolerance > 0 ? ` (answers within ±${tolerance} count)` : "";
      verdict(box, ok, ok ? `Correct: ${key.textContent.trim()}${unit ? " " + unit : ""}.`
                          : `Not quite${within}. Try again.`);
    });
  }

  function quiz(box, index) {
    const list = box.querySelector(".quiz-options > ul");
    const key = box.querySelector(".answer-key");
    const answer = key ? parseInt(key.textContent, 10) : null;
    const items = [...list.children];
    items.forEach((item, i) => {
      const [option, ...rest] = [...item.children];
      const explanation = document.createElement("div");
      explanation.className = "quiz-explanation";
      explanation.hidden = true;
      rest.forEach((node) => explanation.appendChild(node));
      const label = document.createElement("label");
      label.className = "quiz-option";
      const radio = document.createElement("input");
      radio.type = "radio";
      radio.name = `quiz-${index}`;
      radio.value = String(i + 1);
      label.appendChild(radio);
      label.appendChild(document.createTextNode(" "));
      while (option.firstChild) label.appendChild(option.firstChild);
      option.remove();
      item.prepend(label);
      item.appendChild(explanation);
    });
    list.classList.add("quiz-list");
    const result = document.createElement("p");
    result.innerHTML = `<span class="self-check-result" aria-live="polite"></span>`;
    box.appendChild(result);
    list.addEventListener("change", (event) => {
      const chosen = parseInt(event.target.value, 10);
      items.forEach((item, i) => {
        item.querySelector(".quiz-explanation").hidden = i + 1 !== chosen;
      });
      if (answer === null) return verdict(box, null, noKey);
      verdict(box, chosen === answer, chosen === answer ? "Correct." : "Not this one: read why, then try another.");
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll(".self-check.numeric-check").forEach(numericCheck);
    document.querySelectorAll(".self-check.quiz").forEach(quiz);
  });
})();
