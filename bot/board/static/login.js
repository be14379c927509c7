// The sign-in link's page posts its one-time token at once: a link preview that fetches the URL uses nothing up.
document.getElementById("login").submit();
