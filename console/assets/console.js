// kubecontrol console (KMC): the few things a page does in the browser, on top of pages that work without it.
// - Live parts: an EventSource says something changed; the page fetches its server-rendered fragment and swaps
//   the parts that differ (what the page shows is always what the store holds). EventSource reconnects by
//   itself and resumes after the Last-Event-ID it saw.
// - Confirmations: an action's form opens its <dialog> first and posts with confirm=yes; the answer comes back
//   into the page (without this script the server answers with a confirmation page instead).
'use strict';
(() => {
  let refreshLive = () => {};

  /** Puts a fragment's parts in place of the page's parts with the same id; a log only gets its new entries. */
  function swap(text) {
    const tpl = document.createElement('template');
    // Same-origin HTML the server rendered and escaped: the same markup the page itself was made of.
    tpl.innerHTML = text;
    for (const part of tpl.content.querySelectorAll('[data-part][id]')) {
      const current = document.getElementById(part.id);
      if (!current || current.innerHTML === part.innerHTML) continue;
      // Never pull a confirmation away from under someone reading it.
      if (current.querySelector('dialog[open]')) continue;
      if (current.getAttribute('role') === 'log' && part.children.length >= current.children.length) {
        // Append-only: announce only what is new.
        const fresh = [...part.children].slice(current.children.length);
        const stuck = current.scrollTop + current.clientHeight >= current.scrollHeight - 8;
        current.append(...fresh);
        if (stuck) current.scrollTop = current.scrollHeight;
        for (const a of part.attributes) current.setAttribute(a.name, a.value);
        continue;
      }
      const focused = document.activeElement && current.contains(document.activeElement) ? document.activeElement.id : '';
      for (const a of part.attributes) current.setAttribute(a.name, a.value);
      current.replaceChildren(...part.childNodes);
      if (focused) document.getElementById(focused)?.focus();
    }
  }

  function live(root) {
    const fragment = root.dataset.fragment;
    let inFlight = false;
    let again = false;
    let timer = 0;
    const refresh = async () => {
      if (inFlight) {
        again = true;
        return;
      }
      inFlight = true;
      try {
        const res = await fetch(fragment, { headers: { accept: 'text/html', 'x-kmc': 'fragment' }, credentials: 'same-origin', cache: 'no-store' });
        if (res.ok) swap(await res.text());
      } catch {
        // The server is restarting: the next event or tick tries again.
      } finally {
        inFlight = false;
        if (again) {
          again = false;
          schedule();
        }
      }
    };
    // Many events arrive together (a step's progress lines): one fetch for them.
    const schedule = () => {
      if (!timer) timer = setTimeout(() => ((timer = 0), refresh()), 120);
    };
    refreshLive = schedule;
    const url = root.dataset.stream;
    if (url && 'EventSource' in window) {
      const log = document.querySelector('[role="log"][data-last-event]');
      // The first connection starts after what the page already shows; reconnections send Last-Event-ID.
      const after = log ? log.getAttribute('data-last-event') : '';
      const es = new EventSource(after ? `${url}${url.includes('?') ? '&' : '?'}after=${encodeURIComponent(after)}` : url);
      es.addEventListener('deploy-event', schedule);
      es.addEventListener('changed', schedule);
      es.addEventListener('end', () => {
        // The deploy is over and cleaned up: nothing more will come (closing stops EventSource's reconnect).
        es.close();
        schedule();
      });
      addEventListener('pagehide', () => es.close());
    }
    // Elapsed times and deadlines move without events: a quiet refresh while the page is visible.
    setInterval(() => {
      if (!document.hidden) schedule();
    }, 15000);
  }

  /** An action's form: its dialog says what will happen; confirming posts it and shows the answer inline. */
  document.addEventListener('submit', (ev) => {
    const form = ev.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
    const dialog = document.getElementById(form.dataset.confirm);
    if (!dialog || typeof dialog.showModal !== 'function') return; // the server's confirmation page instead
    ev.preventDefault();
    dialog.returnValue = '';
    dialog.showModal();
    dialog.addEventListener(
      'close',
      async () => {
        const opener = form.querySelector('button');
        if (dialog.returnValue !== 'confirm') {
          opener?.focus();
          return;
        }
        const data = new URLSearchParams(new FormData(form));
        data.set('confirm', 'yes');
        const answer = document.getElementById('answer');
        if (opener) opener.disabled = true;
        try {
          const res = await fetch(form.action, { method: 'POST', body: data, headers: { accept: 'text/html', 'x-kmc': 'fragment' }, credentials: 'same-origin' });
          const text = await res.text();
          if (answer) {
            const tpl = document.createElement('template');
            tpl.innerHTML = text;
            answer.replaceChildren(...tpl.content.childNodes);
          }
        } catch {
          if (answer) answer.textContent = 'The server could not be reached; nothing was sent. Try again.';
        } finally {
          if (opener) opener.disabled = false;
          refreshLive();
        }
      },
      { once: true },
    );
  });

  const root = document.querySelector('[data-live][data-fragment]');
  if (root) live(root);
})();
